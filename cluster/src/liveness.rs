//! Which nodes are alive, as this process knows: when it last heard each other node, on its
//! own monotonic clock, and which it found dead.
//!
//! The watchdog (`watchdog.rs`) keeps it: heartbeats and answered pings are heard, and a node
//! silent for too long that fails a ping too is found dead, for good: a process that comes
//! back joins as a new node. Callers read it ([`Liveness::is_dead`]) to decide what a call to
//! a silent node comes to; users watch it with [`NodeDeaths`].

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use super::NodeId;

/// The count of nodes found dead.
struct Deaths(tokio::sync::watch::Sender<u64>);

impl Default for Deaths {
    fn default() -> Self {
        Deaths(tokio::sync::watch::Sender::new(0))
    }
}

/// Tells when this process finds another node of the cluster dead: from
/// [`node_deaths`](crate::node_deaths). Ask [`is_node_dead`](crate::is_node_dead) which.
///
/// ```no_run
/// # async fn watch() {
/// let Some(mut deaths) = helio_cluster::node_deaths() else {
///     return; // not in cluster mode
/// };
/// let watched: helio_runtime::NodeId = helio_runtime::current_node().unwrap();
/// while deaths.changed().await {
///     if helio_cluster::is_node_dead(watched) {
///         println!("{watched} is dead");
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct NodeDeaths(tokio::sync::watch::Receiver<u64>);

impl NodeDeaths {
    /// Waits until another node is found dead (`true`), or the process leaves the cluster
    /// (`false`: no more deaths will be told).
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}

/// When this process last heard each node, and which nodes it found dead.
#[derive(Default)]
pub(crate) struct Liveness {
    /// How many nodes this process found dead so far: watched by [`NodeDeaths`].
    deaths: Deaths,
    /// When each node was last heard, or first noticed (the start of its clock).
    heard: Mutex<HashMap<NodeId, Instant>>,
    /// When each node was last heard for real: a heartbeat, or an answer to a ping.
    seen: Mutex<HashMap<NodeId, Instant>>,
    dead: Mutex<std::collections::HashSet<NodeId>>,
}

impl Liveness {
    /// Whether this process found `node` dead.
    pub(crate) fn is_dead(&self, node: NodeId) -> bool {
        self.dead
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&node)
    }

    /// Records `node` as dead; `false` when it was already.
    pub(crate) fn bury(&self, node: NodeId) -> bool {
        self.heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&node);
        let fresh = self
            .dead
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node);
        if fresh {
            self.deaths.0.send_modify(|count| *count += 1);
        }
        fresh
    }

    /// A watch of the deaths this process finds from now on.
    pub(crate) fn deaths(&self) -> NodeDeaths {
        NodeDeaths(self.deaths.0.subscribe())
    }

    /// Every node heard so far and not found dead.
    pub(crate) fn known(&self) -> Vec<NodeId> {
        self.heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }

    pub(crate) fn heard(&self, node: NodeId) {
        if self.is_dead(node) {
            // A node found dead stays dead: its actors may run elsewhere now.
            return;
        }
        let now = Instant::now();
        self.heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node, now);
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node, now);
    }

    /// Starts every node's clock again: this node was cut off, and heard nothing of anyone.
    pub(crate) fn restart_clocks(&self) {
        let now = Instant::now();
        for heard in self
            .heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values_mut()
        {
            *heard = now;
        }
    }

    /// Notes `node` (from the registry), starting its clock if it was never heard.
    pub(crate) fn noticed(&self, node: NodeId) {
        if self.is_dead(node) {
            return;
        }
        self.heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(node)
            .or_insert_with(Instant::now);
    }

    /// How long ago `node` was last heard; `None` when it never was.
    pub(crate) fn heard_ago(&self, node: NodeId) -> Option<Duration> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(&node).map(Instant::elapsed)
    }

    /// When `node` was last heard; a node never heard counts as heard `now` (the first
    /// look starts its clock).
    pub(crate) fn last_heard(&self, node: NodeId, now: Instant) -> Instant {
        *self
            .heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(node)
            .or_insert(now)
    }
}
