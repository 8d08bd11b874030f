//! The tasks this process sent to the cluster that wait for their ack: a node that dies as it
//! takes a task, before it acks, is not one the caller knows of, so nothing else would ever
//! resolve such a task. A sweep gives up on it after [`ACK_DEADLINE`].

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use super::Cluster;

/// How long a caller waits for a task's ack (or its result) before it gives up on it.
const ACK_DEADLINE: Duration = Duration::from_secs(10);

/// How often a caller looks for tasks past [`ACK_DEADLINE`] while some wait for their ack.
const ACK_SWEEP: Duration = Duration::from_millis(200);

/// The tasks this process sent that may still wait for their ack: when each was sent, its ack
/// entry and its result entry, oldest first.
#[derive(Default)]
pub(crate) struct Acks {
    waiting: Mutex<VecDeque<(Instant, u64, u64)>>,
    /// Whether a sweep runs.
    sweeping: AtomicBool,
}

impl Acks {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Instant, u64, u64)>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Watches a task just sent: ack entry `ack`, result entry `result`.
    pub(super) fn watch(cluster: &Arc<Cluster>, ack: u64, result: u64) {
        let acks = &cluster.acks;
        acks.lock().push_back((Instant::now(), ack, result));
        if !acks.sweeping.swap(true, Ordering::AcqRel) {
            cluster.handle.spawn(Acks::sweep(Arc::downgrade(cluster)));
        }
    }

    /// Until no task waits for its ack: drops the tasks that got theirs, and resolves those
    /// past the deadline to `ActorUnavailable`.
    async fn sweep(cluster: Weak<Cluster>) {
        loop {
            tokio::time::sleep(ACK_SWEEP).await;
            let Some(cluster) = cluster.upgrade() else {
                return;
            };
            let now = Instant::now();
            let mut lost = Vec::new();
            let mut waiting = cluster.acks.lock();
            while let Some(&(sent, ack, result)) = waiting.front() {
                if !cluster.calls.is_waiting(ack) {
                    waiting.pop_front();
                } else if now.duration_since(sent) >= ACK_DEADLINE {
                    waiting.pop_front();
                    lost.push((ack, result));
                } else {
                    break;
                }
            }
            let done = waiting.is_empty();
            if done {
                cluster.acks.sweeping.store(false, Ordering::Release);
            }
            drop(waiting);
            for (ack, result) in lost {
                drop(cluster.calls.take(ack));
                if let Some(pending) = cluster.calls.take(result) {
                    pending.unavailable(&format!(
                        "no node acknowledged the task within {ACK_DEADLINE:?} (the node that \
                         took it may have died as it did)"
                    ));
                }
            }
            // A task sent after the queue emptied started a sweep of its own.
            if done {
                return;
            }
        }
    }
}
