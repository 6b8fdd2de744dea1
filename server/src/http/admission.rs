//! How many syncs run at once: one per device (a phone syncs one request at a time; a
//! second concurrent one is a script), and a bounded number in all, waited for briefly
//! and then answered "busy" (503, Retry-After: the phone retries, nothing is lost). A
//! slot is taken before the request's body is read, so a device cannot hold many 16 MiB
//! bodies at once; and the running requests' bodies share a budget of bytes, so many
//! devices sending their largest bodies together are served a few at a time.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Syncs running at once, over all devices.
pub const MAX_SYNCS: usize = 16;

/// Bytes of sync bodies in requests running at once, over all devices: one body of the
/// largest size (16 MiB) and some small ones. A request holds about twice its body's
/// size until it is answered (the body, then what was decoded from it); phones send
/// pages of about 4 MiB.
pub const BODY_BUDGET: usize = 24 * 1024 * 1024;

/// The budget's unit (a semaphore counts permits in `u32`).
const UNIT: usize = 1024;

/// How long a sync waits for a slot before it is told the server is busy.
const WAIT: Duration = Duration::from_secs(20);

pub struct Admission {
    total: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    devices: Arc<Mutex<HashSet<String>>>,
    wait: Duration,
}

impl Default for Admission {
    fn default() -> Self {
        Admission::waiting(WAIT)
    }
}

/// A running sync's slot; dropping it frees the slot.
pub struct Admitted {
    _total: OwnedSemaphorePermit,
    _body: OwnedSemaphorePermit,
    device: String,
    devices: Arc<Mutex<HashSet<String>>>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.devices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.device);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("a sync of this device is already running; try again when it is done")]
    DeviceBusy,
    #[error("the server is syncing many devices at once; try again shortly")]
    ServerBusy,
}

impl Admission {
    /// Syncs wait up to `wait` for a slot.
    fn waiting(wait: Duration) -> Self {
        Admission {
            total: Arc::new(Semaphore::new(MAX_SYNCS)),
            bytes: Arc::new(Semaphore::new(BODY_BUDGET / UNIT)),
            devices: Default::default(),
            wait,
        }
    }

    /// A slot for a sync of `device` whose body is at most `body_bytes` long.
    pub async fn admit(&self, device: &str, body_bytes: usize) -> Result<Admitted, Refused> {
        if !self
            .devices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(device.to_string())
        {
            return Err(Refused::DeviceBusy);
        }
        // From here the device's entry is released by `Admitted` or below.
        let release = || {
            self.devices
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(device);
        };
        let units = body_bytes.div_ceil(UNIT).clamp(1, BODY_BUDGET / UNIT) as u32;
        let (total, bytes) = (self.total.clone(), self.bytes.clone());
        let permits = async move {
            let slot = total.acquire_owned().await?;
            let body = bytes.acquire_many_owned(units).await?;
            Ok::<_, tokio::sync::AcquireError>((slot, body))
        };
        match tokio::time::timeout(self.wait, permits).await {
            Ok(Ok((slot, body))) => Ok(Admitted {
                _total: slot,
                _body: body,
                device: device.to_string(),
                devices: self.devices.clone(),
            }),
            _ => {
                release();
                Err(Refused::ServerBusy)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_sync_per_device_and_the_slot_comes_back() {
        let a = Admission::default();
        let first = a.admit("d1", 100).await.expect("a slot");
        assert!(matches!(a.admit("d1", 100).await, Err(Refused::DeviceBusy)));
        let other = a.admit("d2", 100).await.expect("another device");
        drop(first);
        assert!(a.admit("d1", 100).await.is_ok());
        drop(other);
    }

    #[tokio::test]
    async fn large_bodies_wait_for_the_byte_budget_and_get_it_back() {
        let a = Admission::waiting(Duration::from_millis(200));
        let big = a.admit("d1", 16 << 20).await.expect("a large body");
        let small = a.admit("d2", 4 << 20).await.expect("a small one beside it");
        // Another large one waits for the budget, then is told the server is busy.
        assert!(matches!(
            a.admit("d3", 16 << 20).await,
            Err(Refused::ServerBusy)
        ));
        drop(big);
        let again = a
            .admit("d3", 16 << 20)
            .await
            .expect("budget returned with the request");
        drop((small, again));
        // A body claiming more than the whole budget is admitted alone, not never.
        assert!(a.admit("d4", usize::MAX).await.is_ok());
    }
}

/// Bytes of photos no document references yet (arrived or arriving) that one device,
/// and one institution with all its devices, may hold. A phone back from a week offline
/// stays far below the default: each sync pushes the records right after their photos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoQuota {
    pub device: u64,
    pub institution: u64,
}

impl Default for PhotoQuota {
    fn default() -> Self {
        PhotoQuota {
            device: 512 << 20,
            institution: 4096 << 20,
        }
    }
}
