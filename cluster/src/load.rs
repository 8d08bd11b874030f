//! What each node has and holds: its [`Load`], which it answers every ping with.
//!
//! A node's load is its resources (`Config::num_cpus` ..), what its actors and tasks hold now,
//! how many actors it serves and how many tasks run and wait there, whether it hosts, and
//! which actor types and tasks it registered. So `helio status` shows each node's resources as
//! used / total and its tasks, an actor goes to the least-loaded node where its resources are
//! (`schedule.rs`), and a task to a node with room for it (`line.rs`).

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
    /// The actors it serves to the cluster.
    #[serde(default)]
    pub(crate) actors: u64,
    /// The tasks it runs now (each holds its resources).
    #[serde(default)]
    pub(crate) running: u64,
    /// The tasks waiting on it: in the runtime's line for their resources (its own tasks),
    /// and, as its pings report it ([`Load::with_line`]), in its line of tasks to place on a
    /// node with room (`line.rs`: they wait cluster-wide, but this node holds them).
    #[serde(default)]
    pub(crate) waiting: u64,
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
        let (running, waiting) = crate::seam::node_tasks();
        Load {
            total: Resources::listed(&total),
            held: Resources::listed(&held),
            hosts: cluster.hosts,
            types: types::all().iter().map(|entry| entry.fingerprint).collect(),
            tasks: task_table::registered(),
            actors: u64::try_from(cluster.served.count()).unwrap_or(u64::MAX),
            running,
            waiting,
        }
    }

    /// This load with `in_line` more tasks waiting: those this process waits to place.
    pub(crate) fn with_line(mut self, in_line: usize) -> Load {
        let in_line = u64::try_from(in_line).unwrap_or(u64::MAX);
        self.waiting = self.waiting.saturating_add(in_line);
        self
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

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::Load;

    #[test]
    fn a_load_without_the_newer_figures_still_decodes() {
        // What a node of the version before counts and tasks sends.
        #[derive(Serialize)]
        struct Old {
            total: Vec<(String, f64)>,
            held: Vec<(String, f64)>,
            hosts: bool,
            types: Vec<u64>,
        }
        let old = Old {
            total: vec![("CPU".to_owned(), 4.0)],
            held: Vec::new(),
            hosts: true,
            types: vec![7],
        };
        let bytes = rmp_serde::to_vec_named(&old).expect("it encodes");
        let load: Load = crate::wire::decode(&bytes).expect("it decodes");
        assert_eq!((load.actors, load.running, load.waiting), (0, 0, 0));
        assert_eq!(load.types, [7]);
        assert!(load.tasks.is_empty());
    }
}
