//! Nodes: the processes of a cluster, each with an id and a record in the registry.

use std::{
    fmt,
    hash::{BuildHasher, Hasher},
    time::{SystemTime, UNIX_EPOCH},
};

use helio_runtime::NodeId;
use serde::{Deserialize, Serialize};

/// What the cluster knows about one node: returned by [`nodes`](crate::nodes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NodeInfo {
    /// The node's id.
    pub id: NodeId,
    /// Its name (`Config::node_name`; `host-pid` by default).
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// Its host name.
    pub host: String,
    /// When it joined, in milliseconds since the Unix epoch.
    pub started_at: u64,
    /// The named actors it hosts, as `namespace/name`.
    pub actors: Vec<String>,
    /// Its resources (`Config::num_cpus` ..) and how much of each its actors and tasks hold,
    /// as it answered the ping just now; empty when it did not answer.
    #[serde(skip)]
    pub resources: Vec<ResourceUse>,
    /// How many tasks it runs now (each holding its resources, a task that asks for none
    /// included), as it answered the ping just now; 0 when it did not answer.
    #[serde(skip)]
    pub running_tasks: u64,
    /// How many tasks wait on it for their resources, as it answered the ping just now; 0
    /// when it did not answer.
    #[serde(skip)]
    pub waiting_tasks: u64,
    /// How many actors it serves to the cluster (named or not: every actor a handle in
    /// another process may reach, those placed there included), as it answered the ping just
    /// now; 0 when it did not answer. [`actors`](NodeInfo::actors) lists the named ones.
    #[serde(skip)]
    pub actor_count: u64,
    /// Whether it answered a ping just now ([`nodes`](crate::nodes) asks each node).
    #[serde(skip)]
    pub state: NodeState,
    /// How long ago this process last heard the node (a heartbeat or a ping's answer);
    /// `None` when it never did.
    #[serde(skip)]
    pub last_heard: Option<std::time::Duration>,
    /// How many times it lost its connection to NATS since it joined, as its record says
    /// (it writes the count again each time it is back): the calls in flight at each loss
    /// were sent again, or failed as in doubt.
    #[serde(default)]
    pub connection_losses: u64,
}

/// One resource of a node and how much of it is held, in [`NodeInfo::resources`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceUse {
    /// `CPU`, `GPU`, or a custom resource's name.
    pub name: String,
    /// How much its actors and tasks hold now.
    pub used: f64,
    /// How much the node has in all.
    pub total: f64,
}

/// What a node's answer to a ping says of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeState {
    /// It answered.
    Alive,
    /// It did not answer within a second: dead, or only slow.
    Silent,
    /// No process listens for it any more: the node's process is gone (its record is left
    /// until a live node notices).
    Gone,
    /// This process found it dead (silent for longer than `node_timeout`, and no answer).
    Dead,
    /// Not asked.
    #[default]
    Unknown,
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeState::Alive => "alive",
            NodeState::Silent => "silent",
            NodeState::Gone => "gone",
            NodeState::Dead => "dead",
            NodeState::Unknown => "unknown",
        })
    }
}

/// This machine's host name, best effort.
pub(crate) fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A fresh random node id (never 0, which `ActorId` uses for "no cluster").
pub(crate) fn random_id() -> NodeId {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    NodeId::from_u64(hasher.finish().max(1))
}
