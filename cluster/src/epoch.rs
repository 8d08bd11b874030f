//! Epochs of the connection to NATS, the pure core of `outage.rs`: each process counts the
//! outages of its control connection (its epoch), hears the others' in their heartbeats, and
//! stamps each call it sends with both, to tell later which calls an outage may have lost.

use std::{
    collections::HashMap,
    sync::{
        PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::Bytes;

use super::NodeId;

/// The epochs of this process's connection and, as last heard, of every other node's.
#[derive(Default)]
pub(crate) struct Epochs {
    own: AtomicU64,
    /// Read at every call sent, written at each heartbeat that tells news.
    nodes: RwLock<HashMap<NodeId, u64>>,
}

/// The epochs a call was sent at: this process's, and its host's as last heard (`None` when
/// the call has no host yet). A node not heard yet is taken to be at epoch 0: a process
/// learns the others' epochs from their records as it joins ([`Epochs::seed`]), so that an
/// outage long past is not news.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sent {
    own: u64,
    host: Option<u64>,
}

impl Sent {
    /// Whether the call was sent before this process's connection was lost, at `own`.
    pub(crate) fn lost_here(self, own: u64) -> bool {
        self.own < own
    }

    /// Whether the call was sent before its host's connection was lost (`epoch` heard now).
    pub(crate) fn lost_there(self, epoch: u64) -> bool {
        self.host.is_some_and(|host| host < epoch)
    }
}

impl Epochs {
    /// This process's epoch now.
    pub(crate) fn own(&self) -> u64 {
        self.own.load(Ordering::Acquire)
    }

    /// This process's connection was lost: its new epoch.
    pub(crate) fn lost(&self) -> u64 {
        self.own.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// What a call to `host` sent now is stamped with.
    pub(crate) fn stamp(&self, host: Option<NodeId>) -> Sent {
        Sent {
            own: self.own(),
            host: host.map(|host| self.of(host).unwrap_or(0)),
        }
    }

    /// `node`'s record says it was at `epoch`: taken when nothing newer was heard.
    pub(crate) fn seed(&self, node: NodeId, epoch: u64) {
        self.lock().entry(node).or_insert(epoch);
    }

    /// The epoch `node` was last heard at.
    fn of(&self, node: NodeId) -> Option<u64> {
        let nodes = self.nodes.read().unwrap_or_else(PoisonError::into_inner);
        nodes.get(&node).copied()
    }

    /// `node` was heard at `epoch`: `true` when it is higher than the one heard before, or
    /// than 0 when none was (its connection was lost since).
    pub(crate) fn heard(&self, node: NodeId, epoch: u64) -> bool {
        let mut nodes = self.lock();
        let before = nodes.insert(node, epoch);
        match before {
            Some(before) if before > epoch => {
                // Heartbeats may come out of order around a reconnect: keep the highest.
                nodes.insert(node, before);
                false
            }
            Some(before) => before < epoch,
            None => epoch > 0,
        }
    }

    /// `node` is gone: forget it.
    pub(crate) fn forget(&self, node: NodeId) {
        self.lock().remove(&node);
    }

    fn lock(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<NodeId, u64>> {
        self.nodes.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The payload of a heartbeat: the sender's epoch.
pub(crate) fn heartbeat(epoch: u64) -> Bytes {
    Bytes::copy_from_slice(&epoch.to_le_bytes())
}

/// The epoch a heartbeat's payload carries; 0 for anything else (an empty payload included).
pub(crate) fn epoch_of(payload: &[u8]) -> u64 {
    <[u8; 8]>::try_from(payload).map_or(0, u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u64) -> NodeId {
        NodeId::from_u64(n)
    }

    #[test]
    fn a_call_sent_before_this_process_lost_its_connection_is_in_doubt() {
        let epochs = Epochs::default();
        let before = epochs.stamp(None);
        let epoch = epochs.lost();
        let after = epochs.stamp(None);
        assert!(before.lost_here(epoch));
        assert!(!after.lost_here(epoch));
    }

    #[test]
    fn a_call_is_in_doubt_once_its_host_is_heard_at_a_higher_epoch() {
        let epochs = Epochs::default();
        let host = node(7);
        // Not heard yet: taken to be at 0.
        let unheard = epochs.stamp(Some(host));
        assert!(!epochs.heard(host, 0));
        let sent = epochs.stamp(Some(host));
        assert!(epochs.heard(host, 1), "the host lost its connection");
        assert!(sent.lost_there(1));
        assert!(unheard.lost_there(1));
        assert!(!epochs.stamp(Some(host)).lost_there(1));
        // A call with no host is judged by this process's epoch only.
        assert!(!epochs.stamp(None).lost_there(1));
    }

    #[test]
    fn an_outage_past_before_this_process_knew_the_node_is_not_news() {
        let epochs = Epochs::default();
        let (seeded, unseeded) = (node(1), node(2));
        epochs.seed(seeded, 3);
        let sent = epochs.stamp(Some(seeded));
        assert!(!epochs.heard(seeded, 3), "its record said 3 already");
        assert!(!sent.lost_there(3));
        // What was heard wins over a record read later.
        epochs.seed(seeded, 1);
        assert_eq!(epochs.of(seeded), Some(3));
        // Heard first at a higher epoch, with no record read: news.
        assert!(epochs.heard(unseeded, 2));
    }

    #[test]
    fn a_late_heartbeat_does_not_lower_an_epoch() {
        let epochs = Epochs::default();
        let host = node(3);
        epochs.heard(host, 2);
        assert!(!epochs.heard(host, 1));
        assert_eq!(epochs.of(host), Some(2));
        assert!(!epochs.heard(host, 2));
        assert!(epochs.heard(host, 3));
    }

    #[test]
    fn a_heartbeat_carries_its_epoch_and_a_malformed_one_reads_as_zero() {
        assert_eq!(epoch_of(&heartbeat(42)), 42);
        assert_eq!(epoch_of(&[]), 0);
        assert_eq!(epoch_of(&[1, 2, 3]), 0);
        assert_eq!(epoch_of(&[0; 9]), 0);
    }
}
