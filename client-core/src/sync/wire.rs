//! The sync wire protocol: `POST /api/v1/sync`, CBOR bodies, versioned.
//!
//! One round trip: the device pushes, per changed document, its heads and the Automerge
//! changes the server has not acknowledged (uncompressed change chunks: the server never
//! inflates data a device sent); the server answers with acknowledgements (its heads after
//! a durable merge), per-document rejections, and the changes the device lacks — for the
//! pushed documents relative to the heads the device sent, and for every other document of
//! its institution changed since the device's cursor in the server's change feed.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use automerge::ChangeHash;

/// Bumped on any incompatible change; the server answers 426 to other versions.
pub const PROTOCOL_VERSION: u32 = 1;

/// The server refuses request bodies larger than this (413).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// One change may not exceed this, uncompressed.
pub const MAX_CHANGE_BYTES: usize = 1024 * 1024;

/// A document on the server may not exceed this many stored bytes.
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;

/// Changes per pushed document in one request.
pub const MAX_CHANGES_PER_DOC: usize = 10_000;

/// Documents per request; the client pages past it.
pub const MAX_DOCS_PER_REQUEST: usize = 500;

pub const CONTENT_TYPE: &str = "application/vnd.saferound.sync+cbor";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub protocol: u32,
    /// The last feed position this device has received.
    pub cursor: u64,
    pub docs: Vec<PushDoc>,
    /// How many bytes of updates the device takes in one answer (the server caps it).
    pub max_update_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDoc {
    pub id: Uuid,
    /// The device's current heads for this document (after the pushed changes).
    #[serde(with = "serde_bytes")]
    pub heads: Vec<u8>,
    /// Automerge change chunks, uncompressed, in causal order.
    pub changes: Vec<serde_bytes::ByteBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub protocol: u32,
    pub acks: Vec<Ack>,
    pub rejections: Vec<Rejection>,
    pub updates: Vec<Update>,
    /// The feed position the device has now received up to.
    pub cursor: u64,
    /// More updates wait: sync again.
    pub more: bool,
    /// Changes every time the server's data is restored from a backup, so devices push
    /// again what the server may have lost.
    pub epoch: String,
}

/// The server holds the pushed changes durably; `heads` are its heads after the merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub id: Uuid,
    #[serde(with = "serde_bytes")]
    pub heads: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// Bytes that are not a valid change, or a change too large.
    InvalidChange,
    /// A change claims an actor that is not this device's.
    ForgedActor,
    /// Dependencies the server does not have: resend from earlier heads.
    MissingDependencies,
    /// The merged document would not be a valid document of its kind.
    SchemaViolation,
    /// The author's role may not make this change.
    Forbidden,
    /// The document is past the size or operation limits.
    TooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub id: Uuid,
    pub code: RejectCode,
    pub reason: String,
    /// The server's copy of the document (a saved document), if it has one: the device
    /// resets to it after quarantining its own changes.
    #[serde(with = "serde_bytes")]
    pub server_doc: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    pub id: Uuid,
    /// The document's kind, so the device can treat server-owned documents (the
    /// directory) as authoritative.
    pub kind: String,
    /// Change chunks the device lacks, or one saved document when `replace` is set.
    pub changes: Vec<serde_bytes::ByteBuf>,
    #[serde(with = "serde_bytes")]
    pub heads: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("the body is not a valid sync message: {0}")]
    Malformed(String),
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
}

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail for these plain types.
    ciborium::into_writer(v, &mut out).expect("CBOR encoding into memory");
    out
}

/// Decodes a message, refusing bodies past `limit` before looking at them.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, WireError> {
    if bytes.len() > limit {
        return Err(WireError::TooLarge(limit));
    }
    // ciborium bounds nesting (recursion limit) and never allocates more than the input
    // holds for byte strings; the length check above bounds everything else.
    ciborium::from_reader(bytes).map_err(|e| WireError::Malformed(e.to_string()))
}

pub fn heads_to_bytes(heads: &[ChangeHash]) -> Vec<u8> {
    crate::store::encode_heads(heads)
}

pub fn heads_from_bytes(bytes: &[u8]) -> Result<Vec<ChangeHash>, WireError> {
    crate::store::decode_heads(bytes)
        .map_err(|_| WireError::Malformed("heads are not whole 32-byte hashes".into()))
}

/// Checks the framing of one Automerge change chunk without inflating or parsing it:
/// the magic bytes, the chunk type (1: an uncompressed change; 2, a compressed one, is
/// refused so nothing a device sends is ever inflated) and the size.
pub fn check_change_chunk(bytes: &[u8]) -> Result<(), String> {
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
        1 => Ok(()),
        2 => Err("compressed changes are not accepted; send uncompressed chunks".into()),
        t => Err(format!("chunk type {t} is not a change")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_refused() {
        let r = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: 7,
            docs: vec![PushDoc {
                id: Uuid::now_v7(),
                heads: vec![1; 32],
                changes: vec![serde_bytes::ByteBuf::from(vec![1, 2, 3])],
            }],
            max_update_bytes: 1000,
        };
        let bytes = encode(&r);
        assert_eq!(decode::<SyncRequest>(&bytes, 1 << 20).unwrap(), r);
        for cut in 0..bytes.len() {
            assert!(
                decode::<SyncRequest>(&bytes[..cut], 1 << 20).is_err(),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            decode::<SyncRequest>(&bytes, 3),
            Err(WireError::TooLarge(3))
        ));
        assert!(decode::<SyncRequest>(&[0xff; 64], 1 << 20).is_err());
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
