//! Automerge bytes as SafeRound reads and writes them, beneath both the local store and
//! the sync protocol: change chunks checked by their framing before Automerge parses
//! them (bounded: a few bytes can claim billions of operations), stored documents loaded
//! only when every chunk is one SafeRound writes, and heads as bytes.

use automerge::{AutoCommit, ChangeHash};

use crate::error::Error;

/// One change may not exceed this, uncompressed.
pub const MAX_CHANGE_BYTES: usize = 1024 * 1024;

/// Operations one change may encode. Automerge's columns are run-length encoded, so a
/// few bytes can claim billions of operations that its parser would then count one by
/// one (and allocate for): this is checked on the encoded runs before Automerge sees them.
pub const MAX_OPS_PER_CHANGE: u64 = 200_000;

/// Sequence numbers and operation counters stay below 2^53 (what JavaScript peers can
/// represent), so `start_op + ops` can never overflow inside Automerge.
pub const MAX_COUNTER: u64 = 1 << 53;

/// What the framing check learnt about a change chunk without parsing it with Automerge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Operations the change's columns encode (each run counted, never expanded).
    pub ops: u64,
    pub seq: u64,
    pub start_op: u64,
}

/// A bounded reader over untrusted bytes: every read checks what is left.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.b.len())
            .ok_or("the change is cut short")?;
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }

    fn uleb(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for i in 0..10 {
            let [byte, rest @ ..] = self.b else {
                return Err("the change is cut short".into());
            };
            self.b = rest;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return Err("a number in the change does not fit 64 bits".into());
            }
            v |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a number in the change does not fit 64 bits".into())
    }

    fn sleb(&mut self) -> Result<i64, String> {
        let mut v = 0i64;
        for i in 0..10 {
            let [byte, rest @ ..] = self.b else {
                return Err("the change is cut short".into());
            };
            self.b = rest;
            let shift = 7 * i;
            v |= i64::from(byte & 0x7f).wrapping_shl(shift);
            if byte & 0x80 == 0 {
                if shift < 57 && byte & 0x40 != 0 {
                    v |= -1i64 << (shift + 7);
                }
                return Ok(v);
            }
        }
        Err("a number in the change does not fit 64 bits".into())
    }
}

/// Counts the values a run-length encoded integer column holds, and their sum, without
/// expanding a run; refuses past `limit` either way.
fn rle_totals(col: &[u8], limit: u64) -> Result<(u64, u64), String> {
    let mut r = Reader { b: col };
    let (mut count, mut sum) = (0u64, 0u64);
    let over = || format!("a change encodes more than {limit} operations");
    while !r.b.is_empty() {
        let run = r.sleb()?;
        let (n, total) = match run {
            0 => (r.uleb()?, 0),
            n if n > 0 => {
                let v = r.uleb()?;
                (n as u64, (n as u64).checked_mul(v).ok_or_else(over)?)
            }
            n => {
                let n = n.unsigned_abs();
                if n > limit {
                    return Err(over());
                }
                let mut t = 0u64;
                for _ in 0..n {
                    t = t.checked_add(r.uleb()?).ok_or_else(over)?;
                }
                (n, t)
            }
        };
        count = count
            .checked_add(n)
            .filter(|c| *c <= limit)
            .ok_or_else(over)?;
        sum = sum
            .checked_add(total)
            .filter(|s| *s <= limit)
            .ok_or_else(over)?;
    }
    Ok((count, sum))
}

/// Column specs: id << 4 | deflate bit (8) | type (0 group, 1 actor, 2 integer).
const DEFLATE: u64 = 8;
const OBJ_ACTOR: u64 = 1;
const OBJ_COUNTER: u64 = 2;
const ACTION: u64 = (4 << 4) | 2;
const PRED_GROUP: u64 = 7 << 4;

/// A change chunk's framing, read with bounds and nothing expanded.
struct Frame<'a> {
    /// The change's actor table: its author first, then the other actors it names.
    actors: Vec<&'a [u8]>,
    seq: u64,
    start_op: u64,
    columns: Vec<(u64, &'a [u8])>,
}

impl<'a> Frame<'a> {
    fn column(&self, spec: u64) -> Option<&'a [u8]> {
        self.columns
            .iter()
            .find(|(s, _)| *s == spec)
            .map(|(_, d)| *d)
    }

    /// Operations the change encodes: values of its action column, bounded.
    fn ops(&self) -> Result<u64, String> {
        match self.column(ACTION) {
            Some(col) => Ok(rle_totals(col, MAX_OPS_PER_CHANGE)?.0),
            None => Ok(0),
        }
    }
}

/// Reads a change chunk's framing (without its checksum; `check_change_chunk` does both).
fn frame(bytes: &[u8]) -> Result<Frame<'_>, String> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    if bytes.len() > MAX_CHANGE_BYTES {
        return Err(format!(
            "a change of {} bytes exceeds {MAX_CHANGE_BYTES}",
            bytes.len()
        ));
    }
    if bytes.len() < 10 || bytes[..4] != MAGIC {
        return Err("not an Automerge change".into());
    }
    match bytes[8] {
        1 => {}
        2 => return Err("compressed changes are not accepted; send uncompressed chunks".into()),
        t => return Err(format!("chunk type {t} is not a change")),
    }
    let mut r = Reader { b: &bytes[9..] };
    let len = r.uleb()?;
    if len != r.b.len() as u64 {
        return Err("the change's length does not match its bytes".into());
    }
    let deps = r.uleb()?;
    r.take(deps.checked_mul(32).ok_or("the change is cut short")?)?;
    let actor_len = r.uleb()?;
    if actor_len == 0 || actor_len > 64 {
        return Err("the change's actor id is not 1–64 bytes".into());
    }
    let mut actors = vec![r.take(actor_len)?];
    let seq = r.uleb()?;
    let start_op = r.uleb()?;
    if seq == 0 || seq >= MAX_COUNTER || start_op == 0 || start_op >= MAX_COUNTER {
        return Err("the change's sequence number or first operation is out of range".into());
    }
    r.sleb()?; // time
    let message_len = r.uleb()?;
    std::str::from_utf8(r.take(message_len)?).map_err(|_| "the change's message is not UTF-8")?;
    let others = r.uleb()?;
    for _ in 0..others {
        let n = r.uleb()?;
        if n == 0 || n > 64 {
            return Err("an actor id in the change is not 1–64 bytes".into());
        }
        actors.push(r.take(n)?);
    }
    let ncols = r.uleb()?;
    let mut specs = Vec::new();
    for _ in 0..ncols {
        let spec = r.uleb()?;
        if spec > u64::from(u32::MAX) {
            return Err("a column id does not fit".into());
        }
        if spec & DEFLATE != 0 {
            return Err("compressed columns are not accepted".into());
        }
        // One column per spec, so the columns read here are the ones Automerge reads.
        if specs.iter().any(|(s, _)| *s == spec) {
            return Err("a column appears twice".into());
        }
        specs.push((spec, r.uleb()?));
    }
    let mut columns = Vec::with_capacity(specs.len());
    for (spec, n) in specs {
        columns.push((spec, r.take(n)?));
    }
    Ok(Frame {
        actors,
        seq,
        start_op,
        columns,
    })
}

/// The operations a change chunk's columns claim, read from its framing alone (no
/// checksum, nothing expanded); 0 for bytes that are not a change, which
/// `check_change_chunk` refuses later. For budgets that must hold before any change is
/// parsed.
pub fn claimed_ops(bytes: &[u8]) -> u64 {
    frame(bytes).and_then(|f| f.ops()).unwrap_or(0)
}

/// Checks one Automerge change chunk without inflating it or handing it to Automerge:
/// the magic bytes, the chunk type (1: an uncompressed change; 2, a compressed one, is
/// refused so nothing a device sends is ever inflated), the size, that the declared
/// length is exactly the bytes present, the checksum, every field's framing, that no column is
/// deflated, and the number of operations (and of predecessors) the run-length encoded
/// columns claim, so Automerge's parser only ever sees bounded work.
pub fn check_change_chunk(bytes: &[u8]) -> Result<ChunkInfo, String> {
    let f = frame(bytes)?;
    // Automerge's change parser does not verify the checksum but loading a document does:
    // a change accepted with a wrong checksum would make the stored document unloadable
    // (found by fuzzing). The checksum covers the type, the length and the body.
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&bytes[8..]);
    if digest[..4] != bytes[4..8] {
        return Err("the change's checksum does not match its bytes".into());
    }
    let ops = f.ops()?;
    // Automerge collects each operation's predecessors into a list: a run claiming
    // millions of them per operation is refused like millions of operations.
    if let Some(col) = f.column(PRED_GROUP) {
        rle_totals(col, MAX_OPS_PER_CHANGE)?;
    }
    if f.start_op
        .checked_add(ops)
        .is_none_or(|end| end >= MAX_COUNTER)
    {
        return Err("the change's operation counters are out of range".into());
    }
    Ok(ChunkInfo {
        ops,
        seq: f.seq,
        start_op: f.start_op,
    })
}

/// An object id as a change encodes it: (counter, actor).
pub type ObjRef<'a> = (u64, &'a [u8]);

/// An object an operation of a change creates, and the object it is created in (`None`:
/// the document's root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeObject<'a> {
    pub id: ObjRef<'a>,
    pub parent: Option<ObjRef<'a>>,
}

/// The objects a change chunk creates, read straight from its operation columns in one
/// bounded pass (Automerge's `Change::decode` expands every operation and value, which
/// costs as much as applying the change). The chunk should have passed
/// `check_change_chunk`; anything malformed is an error, never a panic.
pub fn objects_made(bytes: &[u8]) -> Result<Vec<MadeObject<'_>>, String> {
    let f = frame(bytes)?;
    let ops = f.ops()?;
    let mut obj_actor = Rle::new(f.column(OBJ_ACTOR));
    let mut obj_counter = Rle::new(f.column(OBJ_COUNTER));
    let mut action = Rle::new(f.column(ACTION));
    let actor_at = |i: u64| {
        usize::try_from(i)
            .ok()
            .and_then(|i| f.actors.get(i).copied())
            .ok_or("an operation names an actor the change does not list")
    };
    let mut made = Vec::new();
    for i in 0..ops {
        let (a, c) = (obj_actor.next()?, obj_counter.next()?);
        // Make map (0), list (2), text (4), table (6).
        if !matches!(action.next()?, Some(0 | 2 | 4 | 6)) {
            continue;
        }
        let parent = match (a, c) {
            (None, None) => None,
            (Some(a), Some(c)) => Some((c, actor_at(a)?)),
            _ => return Err("an operation's object id is half missing".into()),
        };
        made.push(MadeObject {
            id: (f.start_op + i, f.actors[0]),
            parent,
        });
    }
    Ok(made)
}

/// Values of a run-length encoded unsigned integer column, one at a time (a missing
/// column holds only nulls; a column that ends early is an error).
struct Rle<'a> {
    r: Option<Reader<'a>>,
    /// Values left in the current run, and the run's kind.
    left: u64,
    run: Run,
}

#[derive(Clone, Copy)]
enum Run {
    Repeat(Option<u64>),
    Literal,
}

impl<'a> Rle<'a> {
    fn new(col: Option<&'a [u8]>) -> Self {
        Rle {
            r: col.map(|b| Reader { b }),
            left: 0,
            run: Run::Repeat(None),
        }
    }

    fn next(&mut self) -> Result<Option<u64>, String> {
        let Some(r) = self.r.as_mut() else {
            return Ok(None);
        };
        while self.left == 0 {
            if r.b.is_empty() {
                return Err("a column ends before its operations do".into());
            }
            match r.sleb()? {
                0 => (self.left, self.run) = (r.uleb()?, Run::Repeat(None)),
                n if n > 0 => (self.left, self.run) = (n as u64, Run::Repeat(Some(r.uleb()?))),
                n => (self.left, self.run) = (n.unsigned_abs(), Run::Literal),
            }
        }
        self.left -= 1;
        match self.run {
            Run::Repeat(v) => Ok(v),
            Run::Literal => r.uleb().map(Some),
        }
    }
}

/// Loads stored document bytes (a snapshot and appended change chunks), after checking
/// by their framing that every chunk is a document or an uncompressed change: what
/// SafeRound writes. `AutoCommit::load` also takes compressed changes (which inflate)
/// and Automerge 0.12's bundles, one of which, found by fuzzing stored documents, makes
/// it allocate 512 MB from a few hundred bytes; a damaged or tampered file must not.
pub fn load_stored(bytes: &[u8]) -> Result<AutoCommit, String> {
    chunks(bytes, |kind| match kind {
        0 | 1 => Ok(()),
        _ => Err(format!(
            "stored bytes hold a chunk of kind {kind}, which SafeRound never writes"
        )),
    })?;
    AutoCommit::load(bytes).map_err(|e| e.to_string())
}

/// Splits concatenated change chunks (what `save_after` writes) into single changes.
pub fn split_change_chunks(bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    chunks(bytes, |kind| match kind {
        1 => Ok(()),
        _ => Err("stored changes are not uncompressed change chunks".into()),
    })
}

/// Automerge chunks by their framing alone (magic, checksum, kind, LEB128 length, body).
/// `kind_allowed` judges each chunk's kind before its length is read.
fn chunks(
    mut bytes: &[u8],
    kind_allowed: impl Fn(u8) -> Result<(), String>,
) -> Result<Vec<&[u8]>, String> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 10 || bytes[..4] != MAGIC {
            return Err("stored bytes are not Automerge chunks".into());
        }
        kind_allowed(bytes[8])?;
        let (mut len, mut shift, mut pos) = (0u64, 0u32, 9usize);
        loop {
            let b = *bytes.get(pos).ok_or("a chunk is cut short")?;
            if shift > 56 {
                return Err("a chunk's length does not fit".into());
            }
            len |= u64::from(b & 0x7f) << shift;
            shift += 7;
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| pos.checked_add(l))
            .filter(|e| *e <= bytes.len())
            .ok_or("a chunk is cut short")?;
        out.push(&bytes[..end]);
        bytes = &bytes[end..];
    }
    Ok(out)
}

pub fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    let mut sorted = heads.to_vec();
    sorted.sort();
    sorted.iter().flat_map(|h| h.0).collect()
}

pub fn decode_heads(bytes: &[u8]) -> crate::error::Result<Vec<ChangeHash>> {
    if !bytes.len().is_multiple_of(32) {
        return Err(Error::Document("stored heads are not whole hashes".into()));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            ChangeHash(h)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `objects_made` must find, by Automerge's own expansion of the change.
    fn made_by_decode(c: &automerge::Change) -> Vec<(u64, Vec<u8>, Option<(u64, Vec<u8>)>)> {
        use automerge::legacy::{ObjectId, OpType};
        let e = c.decode();
        e.operations
            .iter()
            .enumerate()
            .filter(|(_, op)| matches!(op.action, OpType::Make(_)))
            .map(|(i, op)| {
                let parent = match &op.obj {
                    ObjectId::Root => None,
                    ObjectId::Id(id) => Some((id.0, id.1.to_bytes().to_vec())),
                };
                (
                    e.start_op.get() + i as u64,
                    e.actor_id.to_bytes().to_vec(),
                    parent,
                )
            })
            .collect()
    }

    #[test]
    fn objects_made_agree_with_automerge() {
        use automerge::transaction::Transactable;
        use automerge::{ObjType, ROOT};
        let mut a = automerge::AutoCommit::new();
        let mut b = a.fork();
        // Nested maps, lists and text across two actors, several changes, and objects
        // made inside objects another actor made.
        let m = a.put_object(ROOT, "m", ObjType::Map).unwrap();
        let l = a.put_object(&m, "l", ObjType::List).unwrap();
        a.put(ROOT, "plain", 3).unwrap();
        for i in 0..3 {
            let x = a.insert_object(&l, i, ObjType::Map).unwrap();
            a.put_object(&x, "t", ObjType::Text).unwrap();
        }
        a.commit();
        b.merge(&mut a).unwrap();
        let m2 = b.put_object(&m, "inner", ObjType::Map).unwrap();
        b.put_object(&m2, "deeper", ObjType::List).unwrap();
        b.put(&m, "k", "v").unwrap();
        b.commit();
        let changes = b.get_changes(&[]);
        assert!(changes.len() >= 2);
        let mut total = 0;
        for c in &changes {
            assert!(check_change_chunk(c.raw_bytes()).is_ok());
            let got: Vec<_> = objects_made(c.raw_bytes())
                .unwrap()
                .into_iter()
                .map(|o| {
                    (
                        o.id.0,
                        o.id.1.to_vec(),
                        o.parent.map(|(n, a)| (n, a.to_vec())),
                    )
                })
                .collect();
            assert_eq!(got, made_by_decode(c));
            total += got.len();
        }
        assert_eq!(total, 2 + 3 * 2 + 2);
        // Cut or garbled columns are errors, never panics.
        let raw = changes[0].raw_bytes();
        for cut in 0..raw.len() {
            let _ = objects_made(&raw[..cut]);
        }
    }

    #[test]
    fn change_chunks_are_framed_and_compressed_ones_refused() {
        let mut doc = automerge::AutoCommit::new();
        use automerge::transaction::Transactable;
        doc.put(automerge::ROOT, "k", "v".repeat(500)).unwrap();
        doc.commit();
        let mut c = doc.get_changes(&[]).pop().unwrap();
        assert!(check_change_chunk(c.raw_bytes()).is_ok());
        let compressed = c.bytes().to_vec();
        if compressed[8] == 2 {
            assert!(check_change_chunk(&compressed).is_err());
        }
        assert!(check_change_chunk(b"hello world").is_err());
    }
}
