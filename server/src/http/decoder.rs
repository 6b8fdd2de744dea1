//! Sync bodies are decoded on one thread of their own, off the async threads (decoding
//! 16 MiB is milliseconds of CPU).
//!
//! One thread, not the blocking pool: the allocator (mimalloc) returns memory that
//! another thread frees only when the thread that allocated it allocates again, so the
//! changes decoded on a pool thread that then sits idle stayed resident until the pool
//! let the thread go (measured: eight 16 MiB bodies of 1 MiB items left about 60 MB more
//! resident for 10 s, one body's worth per pool thread that had decoded one). On one
//! thread at most one body's worth waits that way, and each decode reclaims the last.
//! The queue to it is short, so the bodies it holds stay bounded even when the requests
//! that sent them are gone (a client that disconnects frees its sync slot at once).

use std::sync::OnceLock;

use axum::body::Bytes;
use saferound_core::sync::wire::{self, SyncRequest, WireError};
use tokio::sync::mpsc::{Sender, channel};
use tokio::sync::oneshot;

/// Bodies waiting for the decoder; a sync past them waits its turn.
const QUEUE: usize = 2;

type Job = (Bytes, oneshot::Sender<Result<SyncRequest, WireError>>);

fn decoder() -> &'static Sender<Job> {
    static DECODER: OnceLock<Sender<Job>> = OnceLock::new();
    // Started at the first sync; a process that cannot start one thread cannot serve.
    #[allow(clippy::expect_used)]
    DECODER.get_or_init(|| {
        let (tx, mut rx) = channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("sync-decoder".into())
            .spawn(move || {
                while let Some((body, reply)) = rx.blocking_recv() {
                    // A panic must cost one request, never the thread every sync needs.
                    let decoded = std::panic::catch_unwind(|| {
                        wire::decode::<SyncRequest>(&body, wire::MAX_REQUEST_BYTES)
                    })
                    .unwrap_or_else(|_| {
                        Err(WireError::Malformed("the body could not be decoded".into()))
                    });
                    drop(body);
                    // The request may have gone meanwhile (client disconnected).
                    let _ = reply.send(decoded);
                }
            })
            .expect("start the sync decoder thread");
        tx
    })
}

/// Decodes a sync body (bounded: `wire::decode`), dropping the body once decoded.
pub async fn decode(body: Bytes) -> Result<SyncRequest, WireError> {
    let (reply, answer) = oneshot::channel();
    decoder()
        .send((body, reply))
        .await
        .map_err(|_| WireError::Malformed("the decoder has stopped".into()))?;
    answer
        .await
        .map_err(|_| WireError::Malformed("the decoder has stopped".into()))?
}
