//! What a placement group is, as plain data: its id, its strategy, and what the cluster is
//! asked to reserve (the seam's part of placement groups).

use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
};

use crate::resources::Resources;

/// How a placement group's bundles go onto nodes (Ray's strategies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PlacementStrategy {
    /// On as few nodes as it can (Ray's `PACK`, the default): on one node when they fit.
    #[default]
    Pack,
    /// Over as many nodes as it can (Ray's `SPREAD`), several on one node when needed.
    Spread,
    /// Every bundle on one node, or none (Ray's `STRICT_PACK`).
    StrictPack,
    /// Each bundle on a node of its own, or none (Ray's `STRICT_SPREAD`).
    StrictSpread,
}

impl fmt::Display for PlacementStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlacementStrategy::Pack => "PACK",
            PlacementStrategy::Spread => "SPREAD",
            PlacementStrategy::StrictPack => "STRICT_PACK",
            PlacementStrategy::StrictSpread => "STRICT_SPREAD",
        })
    }
}

/// A placement group's id: unique in its process, and across a cluster (it names the node
/// that made it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PlacementGroupId {
    node: u64,
    local: u64,
}

impl PlacementGroupId {
    /// The number of the node that made the group (0 outside cluster mode).
    pub fn node(self) -> u64 {
        self.node
    }

    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        PlacementGroupId {
            node: crate::label::node(),
            local: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl fmt::Display for PlacementGroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pg-{:x}-{}", self.node, self.local)
    }
}

/// What the cluster is asked to reserve: a group's bundles, placed with its strategy.
#[derive(Clone, Debug)]
pub struct ReserveGroup {
    /// The group.
    pub group: PlacementGroupId,
    /// How its bundles go onto nodes.
    pub strategy: PlacementStrategy,
    /// The bundles to reserve now, with their index in the group: all of them at first;
    /// after a node's death, those it held.
    pub bundles: Vec<(usize, Resources)>,
    /// The nodes of the group's other bundles (when some are re-placed): a strict strategy
    /// places the new ones with regard to them.
    pub elsewhere: Vec<crate::NodeId>,
    /// Every bundle of the group, and the node of each not being reserved now (`None` for
    /// those that are): what the group's record says.
    pub all: Vec<(Resources, Option<crate::NodeId>)>,
}

/// Why the cluster did not reserve a group now: the first bundle that did not fit, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreserved {
    /// The bundle's index in the group.
    pub bundle: usize,
    /// What it lacked.
    pub message: String,
}
