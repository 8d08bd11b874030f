//! Scheduling actors: the node an actor with `Placement::Any` goes to. (Tasks are pulled by
//! nodes with room: `line.rs`.)
//!
//! The live nodes that host and registered its type are asked for their [`Load`] (a
//! ping, `watchdog.rs`), and [`least_loaded`] picks: among the nodes where the demand fits what
//! is free now (an empty demand always fits), the one with the fewest actors, counting those
//! this process is placing there (`placing.rs`); ties at random. When none has it free now, the
//! least loaded of those whose total fits takes it (the actor waits in its line, at most its
//! `resource_timeout`); when no node ever fits, the actor dies at once with
//! `DeathCause::Unschedulable`, naming what the closest node lacks.

use std::{fmt, hash::BuildHasher, sync::Arc, time::Instant};

use super::{Cluster, NodeId, NodeInfo, load::Load, placing::Sending, watchdog};
use crate::seam::{Ledger, Pick, Resources, pick};

/// A node that may take an actor, as its load says.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    /// The node.
    pub(crate) node: NodeId,
    /// Its resources, and what is held of them.
    pub(crate) ledger: Ledger,
    /// The actors it serves.
    pub(crate) actors: u64,
}

/// The nodes that may take an actor, and when their loads were asked for.
pub(crate) struct Candidates {
    /// When the loads were asked for: placements answered since may not show in them.
    pub(crate) asked: Instant,
    /// The live nodes whose load the caller wants.
    pub(crate) nodes: Vec<Candidate>,
}

/// Why no node takes an actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Unfit {
    /// No live node that hosts has registered its type.
    Nobody,
    /// No node has enough in all: what the closest one lacks.
    Never(String),
    /// None fits (never: a node whose total fits takes it, and it waits there).
    NoneFits,
}

impl fmt::Display for Unfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unfit::Nobody => f.write_str("no live node that hosts has registered it"),
            Unfit::Never(shortfall) => write!(
                f,
                "no node of the cluster ever fits it: it {shortfall} (the node that comes closest)"
            ),
            Unfit::NoneFits => f.write_str("no node fits it"),
        }
    }
}

/// Asks every live node for its load, and keeps those the caller `wants` (they host and
/// registered its type).
pub(crate) async fn candidates(
    cluster: &Arc<Cluster>,
    wants: impl Fn(&Load) -> bool,
) -> Result<Candidates, String> {
    let asked = Instant::now();
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
    let nodes = records
        .iter()
        .zip(loads)
        .filter_map(|(node, (_, load))| {
            let load = load?;
            wants(&load).then(|| Candidate {
                node: node.id,
                ledger: load.ledger(),
                actors: load.actors,
            })
        })
        .collect();
    Ok(Candidates { asked, nodes })
}

/// Chooses the node an actor that asks for `demand` goes to among `found`, and counts it as
/// on its way there until the returned [`Sending`] is answered or dropped.
pub(crate) fn place<'c>(
    cluster: &'c Cluster,
    found: &Candidates,
    demand: &Resources,
    prefer: Option<NodeId>,
) -> Result<Sending<'c>, Unfit> {
    let tie = random_ties();
    cluster.placing.send(found.asked, |on_the_way| {
        match prefer.filter(|node| fits_now(&found.nodes, demand, *node)) {
            Some(node) => Ok(node),
            None => least_loaded(&found.nodes, demand, on_the_way, &tie),
        }
    })
}

/// Where an actor spread over the nodes goes (`Placement::Spread`): counted as spread there.
pub(crate) fn spread<'c>(
    cluster: &'c Cluster,
    found: &Candidates,
    demand: &Resources,
) -> Result<Sending<'c>, Unfit> {
    let tie = random_ties();
    let spread = cluster.placing.spread_counts();
    let sending = cluster.placing.send(found.asked, |on_the_way| {
        round_robin(
            &found.nodes,
            demand,
            &|node| spread.get(&node).copied().unwrap_or(0),
            on_the_way,
            &tie,
        )
    })?;
    cluster.placing.spread_to(sending.node());
    Ok(sending)
}

/// Of the nodes among `candidates` where `demand` fits what is free now, the one `spread`
/// counts the fewest actors spread to, then the least loaded (counting those `on_the_way`),
/// then the lowest `tie`; with none free now, as [`least_loaded`]. A pure function.
pub(crate) fn round_robin(
    candidates: &[Candidate],
    demand: &Resources,
    spread: &dyn Fn(NodeId) -> u64,
    on_the_way: &dyn Fn(NodeId) -> u64,
    tie: &dyn Fn(NodeId) -> u64,
) -> Result<NodeId, Unfit> {
    let key = |candidate: &&Candidate| {
        (
            spread(candidate.node),
            candidate.actors.saturating_add(on_the_way(candidate.node)),
            tie(candidate.node),
        )
    };
    let free_now = candidates
        .iter()
        .filter(|candidate| candidate.ledger.clone().try_acquire(demand).is_ok())
        .min_by_key(key);
    match free_now {
        Some(chosen) => Ok(chosen.node),
        None => least_loaded(candidates, demand, on_the_way, tie),
    }
}

/// Whether `node` is among `candidates` and has `demand` free now. A pure function.
pub(crate) fn fits_now(candidates: &[Candidate], demand: &Resources, node: NodeId) -> bool {
    candidates
        .iter()
        .find(|candidate| candidate.node == node)
        .is_some_and(|candidate| candidate.ledger.clone().try_acquire(demand).is_ok())
}

/// A fresh random order of nodes, for ties: a hash with keys of its own each time.
fn random_ties() -> impl Fn(NodeId) -> u64 {
    let random = std::collections::hash_map::RandomState::new();
    move |node: NodeId| random.hash_one(node.as_u64())
}

/// Where `demand` goes among `candidates`: of the nodes where it fits what is free now, the
/// one with the fewest actors, counting those `on_the_way` there; else, of those whose total
/// fits (it waits there), the same; ties go to the lowest `tie`. A pure function.
pub(crate) fn least_loaded(
    candidates: &[Candidate],
    demand: &Resources,
    on_the_way: &dyn Fn(NodeId) -> u64,
    tie: &dyn Fn(NodeId) -> u64,
) -> Result<NodeId, Unfit> {
    if candidates.is_empty() {
        return Err(Unfit::Nobody);
    }
    let load = |candidate: &&Candidate| {
        (
            candidate.actors.saturating_add(on_the_way(candidate.node)),
            tie(candidate.node),
        )
    };
    let may_fit = || {
        candidates
            .iter()
            .filter(|candidate| candidate.ledger.never_fits(demand).is_none())
    };
    let now = may_fit()
        .filter(|candidate| candidate.ledger.clone().try_acquire(demand).is_ok())
        .min_by_key(load);
    // None has them free now: the least loaded whose total fits takes it, and it waits there.
    if let Some(chosen) = now.or_else(|| may_fit().min_by_key(load)) {
        return Ok(chosen.node);
    }
    match pick(
        candidates
            .iter()
            .map(|candidate| (candidate.node, &candidate.ledger)),
        demand,
    ) {
        Pick::Never(shortfall) => Err(Unfit::Never(shortfall.to_string())),
        Pick::Fits(_) | Pick::Wait => Err(Unfit::NoneFits),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::seam::CPU;

    fn node(n: u64) -> NodeId {
        NodeId::from_u64(n)
    }

    fn resources(cpus: f64, gpus: f64) -> Resources {
        Resources::new()
            .with(CPU, cpus)
            .and_then(|r| r.with("GPU", gpus))
            .expect("valid amounts")
    }

    /// Node `n` with `actors` actors, `total` resources of which `held` are held.
    fn candidate(n: u64, actors: u64, total: (f64, f64), held: (f64, f64)) -> Candidate {
        Candidate {
            node: node(n),
            ledger: Ledger::with_held(resources(total.0, total.1), resources(held.0, held.1)),
            actors,
        }
    }

    fn nothing_on_the_way(_: NodeId) -> u64 {
        0
    }

    /// Ties to the lowest node id.
    fn by_id(node: NodeId) -> u64 {
        node.as_u64()
    }

    #[test]
    fn spread_goes_round_the_nodes_whatever_their_load() {
        let nodes = [
            candidate(1, 5, (4.0, 0.0), (0.0, 0.0)),
            candidate(2, 0, (4.0, 0.0), (0.0, 0.0)),
            candidate(3, 0, (4.0, 0.0), (4.0, 0.0)),
        ];
        let one_cpu = resources(1.0, 0.0);
        let mut spread: HashMap<NodeId, u64> = HashMap::new();
        let mut chosen = Vec::new();
        for _ in 0..4 {
            let counts = spread.clone();
            let node = round_robin(
                &nodes,
                &one_cpu,
                &|n| counts.get(&n).copied().unwrap_or(0),
                &nothing_on_the_way,
                &by_id,
            )
            .expect("a node");
            *spread.entry(node).or_insert(0) += 1;
            chosen.push(node.as_u64());
        }
        // Node 3 has no CPU free; nodes 1 and 2 take turns, the least loaded first.
        assert_eq!(chosen, [2, 1, 2, 1]);
        // With none free now, as the least loaded whose total fits.
        let full = [candidate(1, 2, (1.0, 0.0), (1.0, 0.0))];
        assert_eq!(
            round_robin(&full, &one_cpu, &|_| 0, &nothing_on_the_way, &by_id),
            Ok(node(1))
        );
    }

    #[test]
    fn a_preferred_node_fits_only_when_it_is_a_candidate_with_room_now() {
        let nodes = [
            candidate(1, 9, (4.0, 0.0), (0.0, 0.0)),
            candidate(2, 0, (4.0, 0.0), (4.0, 0.0)),
        ];
        let two_cpus = resources(2.0, 0.0);
        assert!(fits_now(&nodes, &two_cpus, node(1)), "free, however loaded");
        assert!(!fits_now(&nodes, &two_cpus, node(2)), "all held");
        assert!(
            !fits_now(&nodes, &two_cpus, node(3)),
            "not a candidate (dead, or not hosting)"
        );
    }

    #[test]
    fn the_node_with_the_fewest_actors_takes_it_counting_those_on_their_way() {
        let nodes = [
            candidate(1, 5, (4.0, 0.0), (0.0, 0.0)),
            candidate(2, 3, (4.0, 0.0), (0.0, 0.0)),
            candidate(3, 4, (4.0, 0.0), (0.0, 0.0)),
        ];
        let empty = Resources::new();
        let chosen = least_loaded(&nodes, &empty, &nothing_on_the_way, &by_id);
        assert_eq!(chosen, Ok(node(2)));
        // Two on their way to node 2 make it 5: node 3 (4) is the least loaded now.
        let on_the_way = |n: NodeId| if n == node(2) { 2 } else { 0 };
        assert_eq!(
            least_loaded(&nodes, &empty, &on_the_way, &by_id),
            Ok(node(3))
        );
    }

    #[test]
    fn ties_go_either_way_at_random_and_never_to_a_busier_node() {
        let nodes = [
            candidate(1, 2, (1.0, 0.0), (0.0, 0.0)),
            candidate(2, 1, (1.0, 0.0), (0.0, 0.0)),
            candidate(3, 1, (1.0, 0.0), (0.0, 0.0)),
        ];
        let mut chosen: HashMap<NodeId, u32> = HashMap::new();
        for _ in 0..200 {
            let tie = random_ties();
            let node =
                least_loaded(&nodes, &Resources::new(), &nothing_on_the_way, &tie).expect("a node");
            *chosen.entry(node).or_default() += 1;
        }
        assert!(!chosen.contains_key(&node(1)), "{chosen:?}");
        // Each of the two tied nodes wins some (each loses all 200 with chance 2^-200).
        assert!(chosen.get(&node(2)).is_some_and(|n| *n > 0), "{chosen:?}");
        assert!(chosen.get(&node(3)).is_some_and(|n| *n > 0), "{chosen:?}");
    }

    #[test]
    fn only_nodes_where_the_demand_fits_now_take_it() {
        // Node 1 has no GPU; node 2's is held; node 3 has one free but more actors.
        let nodes = [
            candidate(1, 0, (8.0, 0.0), (0.0, 0.0)),
            candidate(2, 1, (8.0, 1.0), (0.0, 1.0)),
            candidate(3, 9, (8.0, 1.0), (0.0, 0.0)),
        ];
        let gpu = resources(0.0, 1.0);
        assert_eq!(
            least_loaded(&nodes, &gpu, &nothing_on_the_way, &by_id),
            Ok(node(3))
        );
        // An empty demand fits anywhere: the node with the fewest actors.
        assert_eq!(
            least_loaded(&nodes, &Resources::new(), &nothing_on_the_way, &by_id),
            Ok(node(1))
        );
        // With node 3's GPU held too, it waits on the least loaded node that has one.
        let busy = [
            nodes[0].clone(),
            nodes[1].clone(),
            candidate(3, 9, (8.0, 1.0), (0.0, 1.0)),
        ];
        assert_eq!(
            least_loaded(&busy, &gpu, &nothing_on_the_way, &by_id),
            Ok(node(2))
        );
    }

    #[test]
    fn no_node_says_why() {
        assert_eq!(
            least_loaded(&[], &Resources::new(), &nothing_on_the_way, &by_id),
            Err(Unfit::Nobody)
        );
        let nodes = [
            candidate(1, 0, (8.0, 0.0), (0.0, 0.0)),
            candidate(2, 0, (8.0, 1.0), (0.0, 0.0)),
        ];
        let unfit = least_loaded(&nodes, &resources(0.0, 2.0), &nothing_on_the_way, &by_id)
            .expect_err("no node has 2 GPUs");
        assert!(
            unfit
                .to_string()
                .starts_with("no node of the cluster ever fits it: it needs 2 GPU"),
            "{unfit}"
        );
    }
}
