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

/// A document on the server may not exceed this many stored bytes.
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;

/// Changes per pushed document in one request.
pub const MAX_CHANGES_PER_DOC: usize = 10_000;

/// Documents per request; the client pages past it.
pub const MAX_DOCS_PER_REQUEST: usize = 500;

/// Changes per request, across its documents; the client pages past it. Checked while
/// the body is decoded: a change costs a few dozen bytes of memory beside its own bytes,
/// so a body of many tiny changes stays within a small multiple of its size.
pub const MAX_CHANGES_PER_REQUEST: usize = 100_000;

/// No Automerge change is shorter than this (its framing and a 16-byte actor alone take
/// more). Shorter items are refused per document like any bad change, but only
/// `MAX_SHORT_CHANGES` of them are decoded per request: each costs a list slot of 24
/// bytes for as little as one byte of body.
pub const MIN_CHANGE_BYTES: usize = 24;
pub const MAX_SHORT_CHANGES: usize = 16;

/// Operations per request, across its documents, as the changes' encoded columns claim
/// them (`claimed_ops`); the client pages past it. Checked before any change is parsed:
/// run-length encoding lets a few bytes claim millions of operations.
pub const MAX_OPS_PER_REQUEST: u64 = 1_000_000;

pub const CONTENT_TYPE: &str = "application/vnd.saferound.sync+cbor";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub protocol: u32,
    /// The last feed position this device has received.
    pub cursor: u64,
    #[serde(deserialize_with = "bounded::docs")]
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
    #[serde(deserialize_with = "bounded::changes")]
    pub changes: Vec<serde_bytes::ByteBuf>,
}

/// A request's item limits, enforced while its body is decoded, before anything past a
/// limit is allocated.
mod bounded {
    use serde::de::{Deserializer, Error, SeqAccess, Visitor};
    use serde_bytes::ByteBuf;

    use super::{
        MAX_CHANGES_PER_DOC, MAX_CHANGES_PER_REQUEST, MAX_DOCS_PER_REQUEST, MAX_SHORT_CHANGES,
        MIN_CHANGE_BYTES, PushDoc,
    };

    fn short(changes: &[ByteBuf]) -> usize {
        changes
            .iter()
            .filter(|c| c.len() < MIN_CHANGE_BYTES)
            .count()
    }

    fn too_many_short<E: Error>() -> E {
        E::custom(format!(
            "more than {MAX_SHORT_CHANGES} items too short to be changes in one request"
        ))
    }

    /// At most `MAX_DOCS_PER_REQUEST` documents, holding at most `MAX_CHANGES_PER_REQUEST`
    /// changes together, `MAX_SHORT_CHANGES` of them too short to be changes.
    pub fn docs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PushDoc>, D::Error> {
        struct Docs;
        impl<'de> Visitor<'de> for Docs {
            type Value = Vec<PushDoc>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "at most {MAX_DOCS_PER_REQUEST} documents")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut docs = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                let (mut changes, mut shorts) = (0usize, 0usize);
                while let Some(doc) = seq.next_element::<PushDoc>()? {
                    if docs.len() == MAX_DOCS_PER_REQUEST {
                        return Err(A::Error::custom(format!(
                            "more than {MAX_DOCS_PER_REQUEST} documents in one request"
                        )));
                    }
                    shorts += short(&doc.changes);
                    if shorts > MAX_SHORT_CHANGES {
                        return Err(too_many_short());
                    }
                    changes += doc.changes.len();
                    if changes > MAX_CHANGES_PER_REQUEST {
                        return Err(A::Error::custom(format!(
                            "more than {MAX_CHANGES_PER_REQUEST} changes in one request"
                        )));
                    }
                    docs.push(doc);
                }
                Ok(docs)
            }
        }
        d.deserialize_seq(Docs)
    }

    /// At most `MAX_CHANGES_PER_DOC` changes for one document (and `MAX_SHORT_CHANGES`
    /// too short to be changes).
    pub fn changes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ByteBuf>, D::Error> {
        struct Changes;
        impl<'de> Visitor<'de> for Changes {
            type Value = Vec<ByteBuf>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "at most {MAX_CHANGES_PER_DOC} changes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut changes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                let mut shorts = 0usize;
                while let Some(c) = seq.next_element::<ByteBuf>()? {
                    if changes.len() == MAX_CHANGES_PER_DOC {
                        return Err(A::Error::custom(format!(
                            "more than {MAX_CHANGES_PER_DOC} changes for one document"
                        )));
                    }
                    shorts += usize::from(c.len() < MIN_CHANGE_BYTES);
                    if shorts > MAX_SHORT_CHANGES {
                        return Err(too_many_short());
                    }
                    changes.push(c);
                }
                Ok(changes)
            }
        }
        d.deserialize_seq(Changes)
    }
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
    /// With `MissingDependencies`: the photos (hashes) the server does not hold, which
    /// the device uploads again (the server removes photos no record used in time).
    /// Absent from older servers' answers.
    #[serde(default)]
    pub missing_photos: Vec<String>,
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
    #[allow(clippy::expect_used)]
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
    crate::codec::encode_heads(heads)
}

pub fn heads_from_bytes(bytes: &[u8]) -> Result<Vec<ChangeHash>, WireError> {
    crate::codec::decode_heads(bytes)
        .map_err(|_| WireError::Malformed("heads are not whole 32-byte hashes".into()))
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
}
