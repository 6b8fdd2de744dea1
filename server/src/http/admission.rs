//! How many syncs run at once: one per device (a phone syncs one request at a time; a
//! second concurrent one is a script), and a bounded number in all, waited for briefly
//! and then answered "busy" (503, Retry-After: the phone retries, nothing is lost). A
//! slot is taken before the request's body is read, so a device cannot hold many 16 MiB
//! bodies at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Syncs running at once, over all devices.
pub const MAX_SYNCS: usize = 16;

/// How long a sync waits for a slot before it is told the server is busy.
const WAIT: Duration = Duration::from_secs(20);

pub struct Admission {
    total: Arc<Semaphore>,
    devices: Arc<Mutex<HashSet<String>>>,
}

impl Default for Admission {
    fn default() -> Self {
        Admission {
            total: Arc::new(Semaphore::new(MAX_SYNCS)),
            devices: Default::default(),
        }
    }
}

/// A running sync's slot; dropping it frees the slot.
pub struct Admitted {
    _total: OwnedSemaphorePermit,
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
    /// A slot for a sync of `device`.
    pub async fn admit(&self, device: &str) -> Result<Admitted, Refused> {
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
        match tokio::time::timeout(WAIT, self.total.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Admitted {
                _total: permit,
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
        let first = a.admit("d1").await.expect("a slot");
        assert!(matches!(a.admit("d1").await, Err(Refused::DeviceBusy)));
        let other = a.admit("d2").await.expect("another device");
        drop(first);
        assert!(a.admit("d1").await.is_ok());
        drop(other);
    }
}
