//! Where a placement group's bundles go: pure, over the live nodes' ledgers as their loads
//! report them (`bundles.rs` asks the chosen nodes to reserve them).
//!
//! - `StrictPack`: every bundle on one node, the first where all fit now.
//! - `Pack`: on one node when all fit there; else each bundle on a node already used when it
//!   fits there, else on a new one.
//! - `Spread`: each bundle on a node not used yet when one fits, else on the least used.
//! - `StrictSpread`: each bundle on a node of its own.
//!
//! A plan that does not fit now names the first bundle that found no node, and why; the
//! group waits and tries again (a node may free resources or join).

use super::NodeId;
use crate::seam::{Ledger, PlacementStrategy, Resources, Unreserved};

/// A node a bundle may go to, with what is free there.
#[derive(Clone, Debug)]
pub(crate) struct Spot {
    pub(crate) node: NodeId,
    pub(crate) ledger: Ledger,
}

/// The node of each bundle, or the first bundle that found none (by its position in
/// `bundles`). `elsewhere`: the nodes of the group's other bundles, when some are placed
/// again after a node's death: `StrictSpread` avoids them, `StrictPack` keeps to them, and
/// `Pack` prefers them.
pub(crate) fn plan(
    strategy: PlacementStrategy,
    bundles: &[Resources],
    nodes: &[Spot],
    elsewhere: &[NodeId],
) -> Result<Vec<NodeId>, Unreserved> {
    if !elsewhere.is_empty() {
        let kept: Vec<Spot> = match strategy {
            PlacementStrategy::StrictSpread => nodes
                .iter()
                .filter(|spot| !elsewhere.contains(&spot.node))
                .cloned()
                .collect(),
            PlacementStrategy::StrictPack => nodes
                .iter()
                .filter(|spot| elsewhere.contains(&spot.node))
                .cloned()
                .collect(),
            // Soft: the nodes of the other bundles first.
            PlacementStrategy::Pack => {
                let mut first: Vec<Spot> = nodes
                    .iter()
                    .filter(|spot| elsewhere.contains(&spot.node))
                    .cloned()
                    .collect();
                first.extend(
                    nodes
                        .iter()
                        .filter(|s| !elsewhere.contains(&s.node))
                        .cloned(),
                );
                first
            }
            PlacementStrategy::Spread => nodes.to_vec(),
        };
        return plan(strategy, bundles, &kept, &[]);
    }
    if nodes.is_empty() {
        return Err(Unreserved {
            bundle: 0,
            message: "has no live node that hosts".to_owned(),
        });
    }
    match strategy {
        PlacementStrategy::StrictPack => one_node(bundles, nodes),
        PlacementStrategy::Pack => one_node(bundles, nodes).or_else(|_| {
            each(bundles, nodes, |used, ledgers, bundle| {
                // Nodes already used first, in the order they were.
                let mut order: Vec<usize> = used.clone();
                order.extend((0..ledgers.len()).filter(|i| !used.contains(i)));
                order.into_iter().find(|&i| fits(&ledgers[i], bundle))
            })
        }),
        PlacementStrategy::Spread => each(bundles, nodes, |used, ledgers, bundle| {
            // A node not used yet, else the one used least.
            (0..ledgers.len())
                .filter(|&i| fits(&ledgers[i], bundle))
                .min_by_key(|&i| (used.iter().filter(|&&u| u == i).count(), i))
        }),
        PlacementStrategy::StrictSpread => {
            if bundles.len() > nodes.len() {
                return Err(Unreserved {
                    bundle: nodes.len(),
                    message: format!(
                        "needs a node of its own, and the cluster has {} live nodes that host",
                        nodes.len()
                    ),
                });
            }
            each(bundles, nodes, |used, ledgers, bundle| {
                (0..ledgers.len()).find(|&i| !used.contains(&i) && fits(&ledgers[i], bundle))
            })
        }
    }
}

fn fits(ledger: &Ledger, bundle: &Resources) -> bool {
    ledger.clone().try_acquire(bundle).is_ok()
}

/// Every bundle on the first node where all fit now.
fn one_node(bundles: &[Resources], nodes: &[Spot]) -> Result<Vec<NodeId>, Unreserved> {
    for spot in nodes {
        let mut ledger = spot.ledger.clone();
        if bundles
            .iter()
            .all(|bundle| ledger.try_acquire(bundle).is_ok())
        {
            return Ok(vec![spot.node; bundles.len()]);
        }
    }
    // Name the first bundle that does not fit with the ones before it on the roomiest node.
    let best = nodes
        .iter()
        .map(|spot| {
            let mut ledger = spot.ledger.clone();
            let failed = bundles
                .iter()
                .position(|bundle| ledger.try_acquire(bundle).is_err())
                .unwrap_or(bundles.len());
            (failed, spot, ledger)
        })
        .max_by_key(|(failed, _, _)| *failed);
    Err(match best {
        Some((failed, spot, ledger)) => Unreserved {
            bundle: failed,
            message: match bundles
                .get(failed)
                .and_then(|b| ledger.clone().try_acquire(b).err())
            {
                Some(busy) => format!(
                    "does not fit with the bundles before it on one node: on node {} it {busy}",
                    spot.node
                ),
                None => "does not fit on one node with the others".to_owned(),
            },
        },
        None => Unreserved {
            bundle: 0,
            message: "has no live node that hosts".to_owned(),
        },
    })
}

/// Each bundle in order on the node `choose` picks among those it fits now (`used`: the
/// nodes taken so far, one per bundle placed).
fn each(
    bundles: &[Resources],
    nodes: &[Spot],
    choose: impl Fn(&Vec<usize>, &[Ledger], &Resources) -> Option<usize>,
) -> Result<Vec<NodeId>, Unreserved> {
    let mut ledgers: Vec<Ledger> = nodes.iter().map(|spot| spot.ledger.clone()).collect();
    let mut used: Vec<usize> = Vec::with_capacity(bundles.len());
    for (index, bundle) in bundles.iter().enumerate() {
        let Some(at) = choose(&used, &ledgers, bundle) else {
            let closest = ledgers
                .iter()
                .zip(nodes)
                .filter_map(|(ledger, spot)| {
                    ledger
                        .clone()
                        .try_acquire(bundle)
                        .err()
                        .map(|busy| (spot.node, busy))
                })
                .next();
            return Err(Unreserved {
                bundle: index,
                message: match closest {
                    Some((node, busy)) => {
                        format!("fits no node now (on node {node}, for one, it {busy})")
                    }
                    None => "fits no node the strategy leaves it".to_owned(),
                },
            });
        };
        // Fits: `choose` only picks a node where it does.
        let _ = ledgers[at].try_acquire(bundle);
        used.push(at);
    }
    Ok(used.into_iter().map(|i| nodes[i].node).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus(n: f64) -> Resources {
        Resources::new().with("CPU", n).unwrap()
    }

    fn spots(free: &[f64]) -> Vec<Spot> {
        free.iter()
            .enumerate()
            .map(|(i, &n)| Spot {
                node: NodeId::from_u64(i as u64 + 1),
                ledger: Ledger::with_held(cpus(n), Resources::new()),
            })
            .collect()
    }

    fn ids(nodes: &[u64]) -> Vec<NodeId> {
        nodes.iter().map(|&n| NodeId::from_u64(n)).collect()
    }

    #[test]
    fn strict_spread_puts_each_bundle_on_a_node_of_its_own() {
        let bundles = [cpus(1.0), cpus(1.0), cpus(1.0)];
        let placed = plan(
            PlacementStrategy::StrictSpread,
            &bundles,
            &spots(&[2.0, 2.0, 2.0]),
            &[],
        );
        assert_eq!(placed, Ok(ids(&[1, 2, 3])));
        let short = plan(
            PlacementStrategy::StrictSpread,
            &bundles,
            &spots(&[4.0, 4.0]),
            &[],
        );
        let err = short.unwrap_err();
        assert_eq!(err.bundle, 2);
        assert!(err.message.contains("2 live nodes"), "{}", err.message);
    }

    #[test]
    fn strict_pack_needs_one_node_for_all() {
        let bundles = [cpus(1.0), cpus(2.0)];
        let placed = plan(
            PlacementStrategy::StrictPack,
            &bundles,
            &spots(&[2.0, 3.0]),
            &[],
        );
        assert_eq!(placed, Ok(ids(&[2, 2])));
        let err = plan(
            PlacementStrategy::StrictPack,
            &bundles,
            &spots(&[2.0, 2.0]),
            &[],
        )
        .unwrap_err();
        assert_eq!(err.bundle, 1);
    }

    #[test]
    fn pack_falls_back_to_several_nodes_and_fills_used_ones_first() {
        let bundles = [cpus(2.0), cpus(1.0), cpus(2.0)];
        let placed = plan(PlacementStrategy::Pack, &bundles, &spots(&[3.0, 2.0]), &[]);
        assert_eq!(placed, Ok(ids(&[1, 1, 2])));
    }

    #[test]
    fn spread_goes_round_the_nodes_then_doubles_up() {
        let bundles = [cpus(1.0), cpus(1.0), cpus(1.0)];
        let placed = plan(
            PlacementStrategy::Spread,
            &bundles,
            &spots(&[2.0, 2.0]),
            &[],
        );
        assert_eq!(placed, Ok(ids(&[1, 2, 1])));
    }

    #[test]
    fn no_node_is_a_wait_naming_the_first_bundle() {
        let err = plan(PlacementStrategy::Pack, &[cpus(1.0)], &[], &[]).unwrap_err();
        assert_eq!(err.bundle, 0);
        let err = plan(
            PlacementStrategy::Spread,
            &[cpus(1.0), cpus(4.0)],
            &spots(&[2.0]),
            &[],
        )
        .unwrap_err();
        assert_eq!(err.bundle, 1);
        assert!(err.message.contains("needs 4 CPU"), "{}", err.message);
    }

    #[test]
    fn a_bundle_placed_again_keeps_to_the_strategy_with_the_others() {
        let bundle = [cpus(1.0)];
        let nodes = spots(&[2.0, 2.0, 2.0]);
        let (one, two) = (NodeId::from_u64(1), NodeId::from_u64(2));
        // Spread strictly: not where the other bundles are.
        let placed = plan(
            PlacementStrategy::StrictSpread,
            &bundle,
            &nodes,
            &[one, two],
        );
        assert_eq!(placed, Ok(ids(&[3])));
        // Packed strictly: only there.
        let placed = plan(PlacementStrategy::StrictPack, &bundle, &nodes, &[two]);
        assert_eq!(placed, Ok(ids(&[2])));
        // Packed: there first.
        let placed = plan(PlacementStrategy::Pack, &bundle, &nodes, &[two]);
        assert_eq!(placed, Ok(ids(&[2])));
        // With every node taken, a strict spread waits.
        let err = plan(
            PlacementStrategy::StrictSpread,
            &bundle,
            &spots(&[2.0, 2.0]),
            &[one, two],
        );
        assert!(err.is_err());
    }
}
