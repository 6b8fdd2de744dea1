//! A sync body is decoded within a small multiple of its size, whatever its shape: the
//! item limits of `wire` hold while decoding, not after. Its own test binary, because it
//! counts every allocation of the process.

// Test code: a step that fails ends the run with its message, as a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use saferound_core::sync::wire::{self, PushDoc, SyncRequest};
use serde_bytes::ByteBuf;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most memory decoding `body` held at once beyond what was live before.
fn peak_decoding(body: &[u8]) -> (usize, Result<SyncRequest, wire::WireError>) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = wire::decode::<SyncRequest>(body, wire::MAX_REQUEST_BYTES);
    (PEAK.load(Ordering::Relaxed) - base, r)
}

fn body(docs: usize, changes_per_doc: usize, change_len: usize) -> Vec<u8> {
    wire::encode(&SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        docs: (0..docs)
            .map(|i| PushDoc {
                id: uuid::Uuid::from_u128(i as u128),
                heads: Vec::new(),
                changes: vec![ByteBuf::from(vec![7u8; change_len]); changes_per_doc],
            })
            .collect(),
        max_update_bytes: 0,
    })
}

/// One test: the counters are the whole process's, so nothing may run beside it.
#[test]
fn bodies_of_many_tiny_items_decode_within_a_small_multiple_of_their_size() {
    let min = wire::MIN_CHANGE_BYTES;
    let cases: [(&str, Vec<u8>, bool); 6] = [
        (
            "the most changes a request may hold",
            body(500, 200, min),
            true,
        ),
        (
            "a document with one change too many",
            body(1, wire::MAX_CHANGES_PER_DOC + 1, min),
            false,
        ),
        (
            "a request with one change too many",
            body(11, 10_000, min),
            false,
        ),
        (
            "a document too many",
            body(wire::MAX_DOCS_PER_REQUEST + 1, 0, 0),
            false,
        ),
        (
            "a million one-byte items in one document",
            body(1, 1_000_000, 1),
            false,
        ),
        (
            "one-byte items spread over documents",
            body(500, 2, 1),
            false,
        ),
    ];
    for (what, body, decodes) in cases {
        let (peak, r) = peak_decoding(&body);
        assert_eq!(r.is_ok(), decodes, "{what}: {:?}", r.err());
        assert!(
            peak <= 4 * body.len() + 64 * 1024,
            "{what}: decoding {} bytes held {peak} bytes",
            body.len()
        );
        println!(
            "{what}: {} bytes of body, {peak} bytes at the peak",
            body.len()
        );
    }
    // A few cut changes stay per-document faults (the server refuses those documents),
    // not a malformed body.
    let r = wire::decode::<SyncRequest>(&body(4, 4, 5), wire::MAX_REQUEST_BYTES).unwrap();
    assert_eq!(r.docs.len(), 4);
    assert!(wire::decode::<SyncRequest>(&body(5, 4, 5), wire::MAX_REQUEST_BYTES).is_err());
}
