//! What each node has and holds, and where an actor that asks for resources goes.
//!
//! A node answers every ping with its [`Load`]: its resources (`Config::num_cpus` ..), what its
//! actors and tasks hold now, whether it hosts, and which actor types it registered. So
//! `helio status` shows each node's resources as used / total, and `Placement::Any` for an
//! actor that asks for resources (and a task that asks for more than CPUs) asks every node and
//! picks with the resource core
//! ([`pick`]): a node where they are free now; else one whose total fits (the actor waits in
//! its line, at most its `resource_timeout`); else no node ever fits, and the actor dies at
//! once with `DeathCause::Unschedulable`, naming what the closest node lacks.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Cluster, NodeId, liveness, types};
use crate::seam::{Ledger, Pick, Resources, pick};

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
            tasks: super::tasks::registered(),
        }
    }

    /// The ledger these figures describe.
    fn ledger(&self) -> Ledger {
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

/// The node an actor or task that asks for `demand` goes to, among the live nodes whose load
/// it `wants` (they host and registered its type or fn); the error says why none can take it.
pub(crate) async fn choose(
    cluster: &Arc<Cluster>,
    wants: impl Fn(&Load) -> bool,
    demand: &Resources,
) -> Result<NodeId, String> {
    let records = cluster
        .registry
        .scan::<super::NodeInfo>("node.")
        .await
        .map_err(|err| format!("could not list the nodes: {err}"))?;
    let loads = futures::future::join_all(
        records
            .iter()
            .map(|node| liveness::node_state(cluster, node.id)),
    )
    .await;
    let candidates: Vec<(NodeId, Ledger)> = records
        .iter()
        .zip(loads)
        .filter_map(|(node, (_, load))| {
            let load = load?;
            wants(&load).then(|| (node.id, load.ledger()))
        })
        .collect();
    if candidates.is_empty() {
        return Err("no live node that hosts has registered it".to_owned());
    }
    match pick(candidates.iter().map(|(id, ledger)| (*id, ledger)), demand) {
        Pick::Fits(node) => Ok(node),
        // None has them free now: the first whose total fits takes it, and it waits there.
        Pick::Wait => candidates
            .iter()
            .find(|(_, ledger)| ledger.never_fits(demand).is_none())
            .map(|(id, _)| *id)
            .ok_or_else(|| "no node fits it".to_owned()),
        Pick::Never(shortfall) => Err(format!(
            "no node of the cluster ever fits it: it {shortfall} (the node that comes closest)"
        )),
    }
}
