//! An actor's address as its callers hold it: its record, and the node that runs it as last
//! known.
//!
//! A remote handle (`client.rs`) and each call in flight to its actor share one [`Address`]:
//! a reply from the actor's new host (`wire::NODE`) moves it, and so does a lookup of the
//! actor's record once its host is found dead. A caller whose actor does not answer reads the
//! record it names (`verdict.rs`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{NodeId, registry::ActorRecord};

/// An actor's address, shared by its remote handle and the calls in flight to it.
pub(crate) struct Address {
    pub(crate) record: ActorRecord,
    /// The node that runs the actor, as last known: it moves when its node dies, and is learnt
    /// again from the registry, or from a reply of its new host (`wire::NODE`).
    host: AtomicU64,
    /// A lookup of the actor's new host is under way.
    refreshing: AtomicBool,
}

impl Address {
    /// The address of the actor `record` names, run by the host it names.
    pub(crate) fn new(record: ActorRecord) -> Self {
        Address {
            host: AtomicU64::new(record.host().as_u64()),
            refreshing: AtomicBool::new(false),
            record,
        }
    }

    /// The node that runs the actor, as last known.
    pub(crate) fn host(&self) -> NodeId {
        NodeId::from_u64(self.host.load(Ordering::Acquire))
    }

    /// A reply came from `node`: it runs the actor now.
    pub(crate) fn answered_by(&self, node: NodeId) {
        self.host.store(node.as_u64(), Ordering::Release);
    }

    /// Starts a lookup of the actor's new host: `false` when one is under way already.
    pub(crate) fn start_refresh(&self) -> bool {
        !self.refreshing.swap(true, Ordering::AcqRel)
    }

    /// The lookup of the actor's new host is over.
    pub(crate) fn refreshed(&self) {
        self.refreshing.store(false, Ordering::Release);
    }
}
