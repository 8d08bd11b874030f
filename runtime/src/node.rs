//! Node ids: which process of a cluster hosts an actor (plain data; cluster mode sets it).

use std::fmt;

/// The id of one process in a cluster, unique across restarts of that process.
///
/// ```no_run
/// let me: helio_runtime::NodeId = helio_runtime::current_node().expect("cluster mode");
/// println!("this process is node {me}");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct NodeId(u64);

impl NodeId {
    /// The id whose number is `n` (as [`as_u64`](NodeId::as_u64) gives it).
    ///
    /// ```
    /// let id = helio_runtime::NodeId::from_u64(255);
    /// assert_eq!(id.as_u64(), 255);
    /// ```
    pub fn from_u64(n: u64) -> Self {
        NodeId(n)
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::str::FromStr for NodeId {
    type Err = std::num::ParseIntError;

    /// Parses the 16 hex digits a `NodeId` displays as.
    ///
    /// ```
    /// let id: helio_runtime::NodeId = "00000000000000ff".parse().unwrap();
    /// assert_eq!(id.to_string(), "00000000000000ff");
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u64::from_str_radix(s, 16).map(NodeId)
    }
}

/// This process's node id, in cluster mode.
///
/// ```no_run
/// if let Some(node) = helio_runtime::current_node() {
///     println!("node {node}");
/// }
/// ```
pub fn current_node() -> Option<NodeId> {
    match crate::label::node() {
        0 => None,
        n => Some(NodeId(n)),
    }
}
