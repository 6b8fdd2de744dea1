//! The last few documents this store loaded or saved, kept parsed in memory.
//!
//! An inspector answers the items of one checklist one after another: every answer loads
//! the same inspection, and `AutoCommit::load` was 40 % of the phone's CPU per answer
//! (profiled with `perf`). An entry is keyed by the document's stored heads, which are
//! hashes of its whole history: if the row in `documents` still has those heads, the
//! parsed document is exactly what loading the row would give, whoever wrote the file in
//! between (another process, a rolled-back transaction that never stored its heads). So a
//! stale entry is never used, only replaced; no invalidation is needed anywhere else.

use std::sync::Mutex;

use automerge::AutoCommit;

use crate::ids::DocId;

/// Enough for an inspection and the hazards being recorded from it; small so the memory
/// stays bounded on a phone (a typical document is a few kilobytes parsed).
const CAPACITY: usize = 8;

#[derive(Default)]
pub struct DocCache {
    /// Most recently used last.
    entries: Mutex<Vec<(DocId, Vec<u8>, AutoCommit)>>,
}

impl DocCache {
    /// The document `id` as of the stored heads `heads`, if it is cached at exactly those.
    pub fn get(&self, id: DocId, heads: &[u8]) -> Option<AutoCommit> {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let at = e.iter().position(|(i, h, _)| *i == id && h == heads)?;
        let entry = e.remove(at);
        let doc = entry.2.clone();
        e.push(entry);
        Some(doc)
    }

    /// Remembers `doc` as the document `id` at the stored heads `heads`. The document must
    /// have no pending (uncommitted) operations.
    pub fn put(&self, id: DocId, heads: Vec<u8>, doc: AutoCommit) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.retain(|(i, _, _)| *i != id);
        if e.len() >= CAPACITY {
            e.remove(0);
        }
        e.push((id, heads, doc));
    }
}
