//! Scheduling by resources: the node an actor (`Placement::Any`) or a task that asks for
//! resources goes to.
//!
//! The live nodes that host and registered its type or fn are asked for their [`Load`] (a
//! ping, `watchdog.rs`), and the resource core picks ([`pick`]): a node where the resources
//! are free now; else one whose total fits (the actor waits in its line, at most its
//! `resource_timeout`); else no node ever fits, and the actor dies at once with
//! `DeathCause::Unschedulable`, naming what the closest node lacks.

use std::sync::Arc;

use super::{Cluster, NodeId, NodeInfo, load::Load, watchdog};
use crate::seam::{Ledger, Pick, Resources, pick};

/// The node an actor or task that asks for `demand` goes to, among the live nodes whose load
/// it `wants` (they host and registered its type or fn); the error says why none can take it.
pub(crate) async fn choose(
    cluster: &Arc<Cluster>,
    wants: impl Fn(&Load) -> bool,
    demand: &Resources,
) -> Result<NodeId, String> {
    let records = cluster
        .registry
        .scan::<NodeInfo>("node.")
        .await
        .map_err(|err| format!("could not list the nodes: {err}"))?;
    let loads = futures::future::join_all(
        records
            .iter()
            .map(|node| watchdog::node_state(cluster, node.id)),
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
