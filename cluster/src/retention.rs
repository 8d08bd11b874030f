//! When a process drops the tombstones beyond the retention (`Config::dead_actors_kept`).
//!
//! The registry's [`sweep`](super::registry::Registry::sweep) does the dropping; this decides
//! when: about every 30 s (`liveness.rs` calls [`Cluster::sweep`]), once this process has written
//! half the retention's count of tombstones since its last sweep, so that a burst of deaths
//! cannot outgrow the retention by more than that, and again within about a second of its
//! last tombstone, so that the registry is back within the retention soon after a burst.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use super::Cluster;

/// How long after a tombstone, with no other since, this process sweeps.
const AFTER_A_BURST: Duration = Duration::from_secs(1);

/// What a process counts to decide when to sweep.
#[derive(Default)]
pub(crate) struct Sweeper {
    /// Tombstones this process wrote since its last sweep.
    buried: AtomicUsize,
    /// A sweep after the current burst of deaths is scheduled.
    pending: AtomicBool,
}

impl Cluster {
    /// Counts a tombstone this process wrote, and sweeps when the rules above say so.
    pub(super) fn buried(self: &Arc<Self>) {
        let sweeper = &self.sweeper;
        let threshold = (self.retention.most / 2).max(1);
        if sweeper.buried.fetch_add(1, Ordering::AcqRel) + 1 >= threshold {
            self.sweep();
        }
        if !sweeper.pending.swap(true, Ordering::AcqRel) {
            let cluster = Arc::clone(self);
            self.handle.spawn(async move {
                tokio::time::sleep(AFTER_A_BURST).await;
                cluster.sweeper.pending.store(false, Ordering::Release);
                if cluster.sweeper.buried.load(Ordering::Acquire) > 0 {
                    cluster.sweep();
                }
            });
        }
    }

    /// Drops the tombstones beyond the retention, in the background.
    pub(super) fn sweep(self: &Arc<Self>) {
        self.sweeper.buried.store(0, Ordering::Release);
        let cluster = Arc::clone(self);
        self.handle.spawn(async move {
            match cluster.registry.sweep(cluster.retention).await {
                Ok(0) => {}
                Ok(dropped) => tracing::debug!(dropped, "old tombstones dropped"),
                Err(err) => tracing::debug!(%err, "tombstones not swept"),
            }
        });
    }
}
