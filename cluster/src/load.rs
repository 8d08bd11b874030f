//! What each node has and holds: its [`Load`], which it answers every ping with.
//!
//! A node's load is its resources (`Config::num_cpus` ..), what its actors and tasks hold now,
//! whether it hosts, and which actor types and tasks it registered. So `helio status` shows
//! each node's resources as used / total, and an actor or task that asks for resources goes
//! where they are (`schedule.rs`).

use serde::{Deserialize, Serialize};

use super::{Cluster, task_table, types};
use crate::seam::{Ledger, Resources};

/// A node's resources and what is held of them, in a ping's answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Load {
    /// What it has in all, by name.
    pub(crate) total: Vec<(String, f64)>,
    /// What its actors and tasks hold now.
    pub(crate) held: Vec<(String, f64)>,
    /// Whether it hosts actors for others (`Config::host`).
    pub(crate) hosts: bool,
    /// The fingerprints of the actor types it registered.
    pub(crate) types: Vec<u64>,
    /// The fingerprints of the tasks it registered.
    #[serde(default)]
    pub(crate) tasks: Vec<u64>,
}

fn listed(resources: &Resources) -> Vec<(String, f64)> {
    resources
        .iter()
        .map(|(name, amount)| (name.to_owned(), amount.to_f64()))
        .collect()
}

fn resources(listed: &[(String, f64)]) -> Resources {
    listed.iter().fold(Resources::new(), |all, (name, amount)| {
        all.clone().with(name, *amount).unwrap_or(all)
    })
}

impl Load {
    /// This node's load now.
    pub(crate) fn here(cluster: &Cluster) -> Load {
        let (total, held) = crate::seam::node_resources();
        Load {
            total: listed(&total),
            held: listed(&held),
            hosts: cluster.hosts,
            types: types::all().iter().map(|entry| entry.fingerprint).collect(),
            tasks: task_table::registered(),
        }
    }

    /// The ledger these figures describe.
    pub(crate) fn ledger(&self) -> Ledger {
        Ledger::with_held(resources(&self.total), resources(&self.held))
    }

    /// `(name, used, total)` of each resource the node has.
    pub(crate) fn uses(&self) -> Vec<(String, f64, f64)> {
        self.total
            .iter()
            .map(|(name, total)| {
                let used = self
                    .held
                    .iter()
                    .find(|(held, _)| held == name)
                    .map_or(0.0, |(_, used)| *used);
                (name.clone(), used, *total)
            })
            .collect()
    }
}
