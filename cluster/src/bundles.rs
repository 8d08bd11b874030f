//! Placement groups across nodes: the creator plans where the bundles go (`bundle_plan.rs`)
//! over the live hosting nodes' loads, and asks each chosen node to reserve its bundles on
//! `helio.<cluster>.pg.<node>`; all or nothing, so when one refuses (its resources went
//! meanwhile), those that took theirs give them back, and the runtime tries again later.
//! Removing a group asks each node that holds some of it to give them back (and kill the
//! group's actors there).

use std::{sync::Arc, time::Duration};

use async_nats::{HeaderMap, Message, message::OutboundMessage};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{
    Cluster, NodeId,
    bundle_plan::{Spot, plan},
    current, schedule,
    wire::{self, CODEC, CODEC_ID, Failure},
};
use crate::seam::{
    ActorLabel, PlacementGroupId, ReserveGroup, Resources, Unreserved, detached_pair, group_nodes,
    held_parts, node_died, release_part, reserve_part,
};

/// How long a node may take to answer a reservation.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// A placement group as the registry keeps it while it lives, for [`placement_groups`]
/// (`helio status`): written by the process that made it, removed with the group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlacementGroupInfo {
    /// Its id (`pg-<node>-<n>`).
    pub id: String,
    /// Its strategy (`PACK`, `SPREAD`, `STRICT_PACK`, `STRICT_SPREAD`).
    pub strategy: String,
    /// `pending` (its bundles not all reserved yet), `created`, or `rescheduling` (some
    /// bundles are being reserved again: their node died).
    pub state: String,
    /// Its bundles' resources, by name, in order.
    pub bundles: Vec<Vec<(String, f64)>>,
    /// The node of each bundle, once created (while rescheduling, of those still placed).
    pub nodes: Vec<NodeId>,
    /// The node that made it: the group goes when that node does.
    pub creator: NodeId,
}

fn record_key(group: PlacementGroupId) -> String {
    format!("pg.{group}")
}

/// Writes the group's record: pending (or rescheduling), or created with the node of each
/// bundle (`homes`: those of the bundles reserved now).
async fn record(cluster: &Cluster, request: &ReserveGroup, homes: Option<&[NodeId]>) {
    let again = !request.elsewhere.is_empty() || request.bundles.len() < request.all.len();
    let state = match (homes, again) {
        (Some(_), _) => "created",
        (None, false) => "pending",
        (None, true) => "rescheduling",
    };
    let mut nodes: Vec<Option<NodeId>> = request.all.iter().map(|(_, node)| *node).collect();
    if let Some(homes) = homes {
        for ((index, _), home) in request.bundles.iter().zip(homes) {
            if let Some(node) = nodes.get_mut(*index) {
                *node = Some(*home);
            }
        }
    }
    let info = PlacementGroupInfo {
        id: request.group.to_string(),
        strategy: request.strategy.to_string(),
        state: state.to_owned(),
        bundles: request
            .all
            .iter()
            .map(|(bundle, _)| bundle.listed())
            .collect(),
        nodes: if state == "pending" {
            Vec::new()
        } else {
            nodes.into_iter().flatten().collect()
        },
        creator: cluster.node(),
    };
    if let Err(err) = cluster
        .registry
        .put_value(&record_key(request.group), &info)
        .await
    {
        tracing::debug!(group = %request.group, %err, "placement group record not written");
    }
}

/// The placement groups of the cluster (empty outside cluster mode), as their makers
/// recorded them, sorted by id. Blocks for the registry's answer (at most 10 s).
///
/// ```no_run
/// for group in helio_cluster::placement_groups() {
///     println!("{} {} {} {:?}", group.id, group.strategy, group.state, group.nodes);
/// }
/// ```
pub fn placement_groups() -> Vec<PlacementGroupInfo> {
    let Some(cluster) = current() else {
        return Vec::new();
    };
    let registry = cluster.registry.clone();
    let scan = async move { registry.scan::<PlacementGroupInfo>("pg.").await };
    let mut groups = super::block_on(&cluster.handle, Duration::from_secs(10), scan)
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    groups.sort_by(|a, b| a.id.cmp(&b.id));
    groups
}

/// What a node is asked.
#[derive(Serialize, Deserialize)]
enum Request {
    /// Reserve these bundles (index in the group, resources by name) of the group, now, all
    /// or none.
    Reserve {
        group: PlacementGroupId,
        bundles: Vec<(usize, Vec<(String, f64)>)>,
    },
    /// Give back what is held of the group.
    Release { group: PlacementGroupId },
}

/// A node's answer to `Reserve`: `Err((bundle, why))` when one did not fit now.
type Answer = Result<(), (usize, String)>;

/// Reserves `request`'s bundles on the nodes the plan picks: the node of each bundle.
pub(crate) async fn reserve(request: ReserveGroup) -> Result<Vec<NodeId>, Unreserved> {
    let unreserved = |message: String| Unreserved { bundle: 0, message };
    let cluster = current().ok_or_else(|| unreserved("this process left the cluster".into()))?;
    let found = schedule::candidates(&cluster, |load| load.hosts)
        .await
        .map_err(unreserved)?;
    let spots: Vec<Spot> = found
        .nodes
        .into_iter()
        .map(|candidate| Spot {
            node: candidate.node,
            ledger: candidate.ledger,
        })
        .collect();
    let bundles: Vec<Resources> = request.bundles.iter().map(|(_, b)| b.clone()).collect();
    // The group's index of the bundle at `at` in this request.
    let index_of = |at: usize| request.bundles.get(at).map_or(at, |(index, _)| *index);
    let homes = match plan(request.strategy, &bundles, &spots, &request.elsewhere) {
        Ok(homes) => homes,
        Err(unreserved) => {
            record(&cluster, &request, None).await;
            return Err(Unreserved {
                bundle: index_of(unreserved.bundle),
                message: unreserved.message,
            });
        }
    };
    let mut nodes: Vec<NodeId> = homes.clone();
    nodes.sort_unstable();
    nodes.dedup();
    let asks = nodes.iter().map(|&node| {
        let bundles = homes
            .iter()
            .zip(&request.bundles)
            .filter(|(home, _)| **home == node)
            .map(|(_, (index, bundle))| (*index, bundle.listed()))
            .collect();
        let ask = Request::Reserve {
            group: request.group,
            bundles,
        };
        let cluster = Arc::clone(&cluster);
        async move { (node, ask_node(&cluster, node, &ask).await) }
    });
    let answers = futures::future::join_all(asks).await;
    let refused = answers.iter().find_map(|(node, answer)| match answer {
        Ok(Ok(())) => None,
        Ok(Err((bundle, why))) => Some(Unreserved {
            bundle: *bundle,
            message: format!("did not fit on node {node} after all: it {why}"),
        }),
        Err(why) => Some(Unreserved {
            bundle: index_of(homes.iter().position(|home| home == node).unwrap_or(0)),
            message: format!("could not be reserved on node {node}: {why}"),
        }),
    });
    let Some(refused) = refused else {
        record(&cluster, &request, Some(&homes)).await;
        return Ok(homes);
    };
    // All or nothing: those that took theirs give them back.
    let took: Vec<NodeId> = answers
        .iter()
        .filter(|(_, answer)| matches!(answer, Ok(Ok(()))))
        .map(|(node, _)| *node)
        .collect();
    release(&cluster, request.group, took);
    Err(refused)
}

/// The group was removed: its record goes, and `nodes` give back what they hold of it.
pub(crate) fn removed(cluster: &Arc<Cluster>, group: PlacementGroupId, nodes: Vec<NodeId>) {
    let registry = cluster.registry.clone();
    cluster.handle.spawn(async move {
        if let Err(err) = registry.remove_key(&record_key(group)).await {
            tracing::debug!(%group, %err, "placement group record not removed");
        }
    });
    release(cluster, group, nodes);
}

/// Asks `nodes` to give back what they hold of `group` (not waiting for their answers).
///
/// A node that does not answer is asked again, up to [`RELEASE_TRIES`] times, until it
/// answers or is found dead (its bundles went with it). One still silent after that keeps
/// them until it finds this process gone (`forget_the_dead`): the failure is logged, as
/// `remove_placement_group` has no caller to tell (it returns nothing, as Ray's does).
pub(crate) fn release(cluster: &Arc<Cluster>, group: PlacementGroupId, nodes: Vec<NodeId>) {
    for node in nodes {
        let cluster = Arc::clone(cluster);
        cluster.handle.clone().spawn(async move {
            let mut why = String::new();
            for _ in 0..RELEASE_TRIES {
                if cluster.liveness.is_dead(node) {
                    return;
                }
                match ask_node(&cluster, node, &Request::Release { group }).await {
                    Ok(_) => return,
                    Err(err) => why = err,
                }
            }
            tracing::warn!(%group, %node, %why, "a node did not give back its bundles");
        });
    }
}

/// How often a node that does not answer is asked to give back a group's bundles.
const RELEASE_TRIES: usize = 5;

/// Sends `request` to `node` and waits (at most [`ANSWER_WITHIN`]) for its answer.
async fn ask_node(cluster: &Cluster, node: NodeId, request: &Request) -> Result<Answer, String> {
    let payload = wire::encode(request).map_err(|err| err.to_string())?;
    let (reply, done) = detached_pair::<Bytes>();
    let id = cluster.calls.insert_raw(
        ActorLabel::new("placement_group", None),
        "reserve",
        Box::new(move |result| done.complete(result)),
    );
    let mut headers = HeaderMap::new();
    headers.insert(CODEC, CODEC_ID);
    cluster.publish(OutboundMessage {
        subject: cluster.subjects.placement_group(node).into(),
        reply: Some(cluster.subjects.inbox(id).into()),
        payload: Bytes::from(payload),
        headers: Some(headers),
    });
    let answer = tokio::time::timeout(ANSWER_WITHIN, reply)
        .await
        .map_err(|_| format!("no answer within {ANSWER_WITHIN:?}"))?
        .map_err(|err| err.to_string())?;
    wire::decode::<Answer>(&answer).map_err(|err| format!("a bad answer: {err}"))
}

/// Listens for reservations on this node; a client-only process holds no bundles.
/// (Every process, a client-only one too, re-places the bundles of its groups whose node
/// dies.)
pub(crate) async fn listen(cluster: &Arc<Cluster>) -> Result<(), String> {
    cluster.handle.spawn(replace_the_lost(
        Arc::downgrade(cluster),
        cluster.liveness.deaths(),
    ));
    if !cluster.hosts {
        return Ok(());
    }
    let mut sub = cluster
        .client
        .subscribe(cluster.subjects.placement_group(cluster.node()))
        .await
        .map_err(|err| format!("could not subscribe placement group requests: {err}"))?;
    let weak = Arc::downgrade(cluster);
    cluster
        .handle
        .spawn(forget_the_dead(weak.clone(), cluster.liveness.deaths()));
    cluster.handle.spawn(async move {
        while let Some(message) = sub.next().await {
            let Some(cluster) = weak.upgrade() else {
                return;
            };
            answer(&cluster, message);
        }
    });
    Ok(())
}

fn answer(cluster: &Cluster, message: Message) {
    let Some(reply) = message.reply.clone() else {
        return;
    };
    let result = match wire::decode::<Request>(&message.payload) {
        Ok(Request::Reserve { group, bundles }) => {
            let bundles: Result<Vec<(usize, Resources)>, String> = bundles
                .into_iter()
                .map(|(index, listed)| {
                    listed
                        .into_iter()
                        .try_fold(Resources::new(), |bundle, (name, amount)| {
                            bundle.with(&name, amount)
                        })
                        .map(|bundle| (index, bundle))
                        .map_err(|err| err.to_string())
                })
                .collect();
            match bundles {
                Ok(bundles) => Ok(reserve_part(group, &bundles)),
                Err(err) => Err(Failure::Wire(format!("a bad bundle: {err}"))),
            }
        }
        Ok(Request::Release { group }) => {
            release_part(group);
            Ok(Ok(()))
        }
        Err(err) => Err(Failure::Wire(format!(
            "a bad placement group request: {err}"
        ))),
    };
    let result = result.and_then(|answer: Answer| {
        wire::encode(&answer).map_err(|err| Failure::Wire(err.to_string()))
    });
    cluster.reply(reply, result);
}

/// Gives back the bundles of groups whose maker this node finds dead (or gone): as in Ray,
/// a group goes with the process that made it, and its actors with it.
async fn forget_the_dead(cluster: std::sync::Weak<Cluster>, mut deaths: super::NodeDeaths) {
    while deaths.changed().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        for group in held_parts() {
            let maker = NodeId::from_u64(group.node());
            if cluster.liveness.is_dead(maker) {
                tracing::info!(%group, %maker, "its maker is gone: giving the bundles back");
                release_part(group);
                let registry = cluster.registry.clone();
                cluster.handle.spawn(async move {
                    let _ = registry.remove_key(&record_key(group)).await;
                });
            }
        }
    }
}

/// Re-places the bundles of this process's groups whose node this process finds dead (Ray
/// reschedules them the same way); the group is `Rescheduling` meanwhile.
async fn replace_the_lost(cluster: std::sync::Weak<Cluster>, mut deaths: super::NodeDeaths) {
    while deaths.changed().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        for node in group_nodes() {
            if cluster.liveness.is_dead(node) {
                node_died(node);
            }
        }
    }
}
