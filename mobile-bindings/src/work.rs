//! Running the core's blocking work off the caller's thread, and cancelling it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Result, SafeRoundError};

/// Cancels a running `sync` (or `enroll`): call `cancel()` from any thread. The work stops
/// at its next step with `SafeRoundError.Cancelled`; nothing already acknowledged is lost.
/// Cancelling the awaiting coroutine or task cancels it as well.
#[derive(Debug, Default, uniffi::Object)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
}

#[uniffi::export]
impl CancelToken {
    /// A token that is not cancelled yet.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Asks the work using this token to stop.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl CancelToken {
    pub(crate) fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }
}

/// Sets the flag when dropped before `disarm`: the foreign side dropped the future
/// (a cancelled coroutine or task), so the worker thread should stop too.
struct CancelOnDrop(Option<Arc<AtomicBool>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f.store(true, Ordering::SeqCst);
        }
    }
}

/// Runs `work` on a thread of its own and awaits its result without blocking the caller:
/// the future needs no async runtime (it is woken by a oneshot channel), so Kotlin
/// coroutines, Swift tasks and Python's asyncio can all drive it. If the work returned an
/// error after `cancel` was set, the error is `Cancelled`.
pub(crate) async fn off_thread<T, F>(name: &str, cancel: Arc<AtomicBool>, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let (tx, rx) = futures_channel::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("saferound-{name}"))
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| SafeRoundError::Storage {
            reason: format!("cannot start a worker thread: {e}"),
        })?;
    let mut guard = CancelOnDrop(Some(cancel.clone()));
    let result = rx.await;
    guard.0 = None;
    match result {
        Ok(Err(_)) if cancel.load(Ordering::SeqCst) => Err(SafeRoundError::Cancelled),
        Ok(r) => r,
        // The worker panicked (a bug): report it rather than hang.
        Err(_) => Err(SafeRoundError::Storage {
            reason: format!("the {name} worker stopped unexpectedly"),
        }),
    }
}
