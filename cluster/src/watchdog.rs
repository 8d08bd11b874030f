//! The watchdog: heartbeats, pings, and what follows when a node is found dead.
//!
//! Every node publishes a heartbeat to `helio.<cluster>.hb.<node>` three times per
//! `node_timeout` and answers pings on `helio.<cluster>.ping.<node>` with its load
//! (`load.rs`). Every node notes when it last heard each other node (`liveness.rs`). The
//! watchdog looks at the nodes this process waits on (calls and streams in flight) and those
//! it knows of: one silent for longer than `node_timeout` that also fails a direct ping is
//! dead. Then every call it owes resolves, or runs again elsewhere (`unanswered.rs`), so that
//! nothing waits for a process that is gone; its record leaves the registry, and its detached
//! actors restart elsewhere (`revive.rs`). Its own heartbeats coming back tell this node that
//! it is not cut off (`fence.rs`).

use std::{
    sync::{Arc, Weak},
    time::{Duration, Instant},
};

use async_nats::message::OutboundMessage;
use bytes::Bytes;
use futures::StreamExt;

use super::{Cluster, NodeId, wire};
use crate::{seam::ActorLabel, seam::detached_pair};

/// How long a ping may take.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// Starts heartbeats, the ping responder, the heartbeat listener and the watchdog.
pub(crate) async fn start(cluster: &Arc<Cluster>) -> Result<(), String> {
    let heartbeats = cluster
        .client
        .subscribe(cluster.subjects.heartbeats())
        .await
        .map_err(|err| format!("could not subscribe heartbeats: {err}"))?;
    let pings = cluster
        .client
        .subscribe(cluster.subjects.ping(cluster.node()))
        .await
        .map_err(|err| format!("could not subscribe pings: {err}"))?;
    let weak = Arc::downgrade(cluster);
    cluster.handle.spawn(listen(weak.clone(), heartbeats));
    cluster.handle.spawn(answer_pings(weak.clone(), pings));
    cluster
        .handle
        .spawn(beat(weak.clone(), cluster.node_timeout));
    cluster
        .handle
        .spawn(watch(weak.clone(), cluster.node_timeout));
    cluster
        .handle
        .spawn(super::fence::guard(weak, cluster.node_timeout));
    Ok(())
}

async fn listen(cluster: Weak<Cluster>, mut heartbeats: async_nats::Subscriber) {
    while let Some(message) = heartbeats.next().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        match super::subjects::heartbeat_node(&message.subject) {
            // This node's own heartbeat, back through the server: it is not cut off.
            Some(node) if node == cluster.node() => cluster.fence.echoed(),
            Some(node) => {
                cluster.liveness.heard(node);
                // Each carries its sender's epoch (`outage.rs`); a batch carries several.
                let epoch = super::batch::split(message)
                    .iter()
                    .map(|beat| super::epoch::epoch_of(&beat.payload))
                    .max();
                if let Some(epoch) = epoch {
                    super::outage::heard(&cluster, node, epoch);
                }
            }
            None => {}
        }
    }
}

async fn answer_pings(cluster: Weak<Cluster>, mut pings: async_nats::Subscriber) {
    while let Some(message) = pings.next().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        // Pings sent at once by one process come as one batch: answer each.
        for ping in super::batch::split(message) {
            let Some(reply) = ping.reply else {
                continue;
            };
            // The answer says what this node has and holds (`load.rs`).
            let load = load_here(&cluster);
            cluster.reply(
                reply,
                wire::encode(&load).map_err(|err| wire::Failure::Wire(err.to_string())),
            );
        }
    }
}

async fn beat(cluster: Weak<Cluster>, timeout: Duration) {
    let mut every = tokio::time::interval(timeout / 3);
    loop {
        every.tick().await;
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        cluster.beat();
    }
}

/// Every how many watch rounds (a third of the node timeout each) a node sweeps tombstones:
/// about every 30 s with the default timeout.
const SWEEP_EVERY: u64 = 30;

async fn watch(cluster: Weak<Cluster>, timeout: Duration) {
    let mut every = tokio::time::interval(timeout / 3);
    for round in 0u64.. {
        every.tick().await;
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        if cluster.fence.is_cut_off() {
            // Cut off, this node hears no one: that says nothing of the others.
            continue;
        }
        // Now and then, drop the tombstones beyond the retention (any node may: the
        // purges are revision-checked).
        if round % SWEEP_EVERY == SWEEP_EVERY - 1 {
            super::deaths::sweep(&cluster);
        }
        // Nodes this process never heard (it joined after they went silent) are in the
        // registry: look there now and then.
        if round % 3 == 0
            && let Ok(nodes) = cluster.registry.scan::<super::NodeInfo>("node.").await
        {
            for node in nodes {
                cluster.liveness.noticed(node.id);
                cluster.epochs.seed(node.id, node.connection_losses);
            }
        }
        let now = Instant::now();
        let mut nodes = cluster.calls.nodes_waited_on();
        nodes.extend(cluster.liveness.known());
        nodes.sort_unstable();
        nodes.dedup();

        for node in nodes {
            if node == cluster.node()
                || cluster.liveness.is_dead(node)
                || now - cluster.liveness.last_heard(node, now) <= timeout
            {
                continue;
            }
            if ping(&cluster, node).await == Ping::Answered {
                cluster.liveness.heard(node);
                continue;
            }
            if cluster.fence.is_cut_off() {
                // Cut off meanwhile: the failed ping says nothing of `node`.
                break;
            }
            if !cluster.liveness.bury(node) {
                continue;
            }
            tracing::warn!(%node, ?timeout, "node is dead: silent, and no answer to a ping");
            let message = format!(
                "its node {node} stopped answering (no heartbeat for {timeout:?}, no answer \
                 to a ping)"
            );
            super::dispatch::forget(&cluster, node);
            cluster.epochs.forget(node);
            super::unanswered::node_died(&cluster, node, &message);
            let cluster = Arc::clone(&cluster);
            let handle = cluster.handle.clone();
            handle.spawn(async move {
                cluster.registry.remove_node(node).await;
                super::revive::revive(&cluster, node).await;
            });
        }
    }
}

/// How a node answered a ping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ping {
    Answered,
    /// No answer in time: dead, or only slow.
    Silent,
    /// The server knows no one listening for it: the node's process is gone.
    Gone,
}

/// What this node answers a ping with: its load, with the tasks in its line as waiting.
fn load_here(cluster: &Cluster) -> super::load::Load {
    super::load::Load::here(cluster).with_line(cluster.pull.waiting())
}

/// What a ping says of `node` now (this node is alive to itself), with its load when it
/// answered.
pub(crate) async fn node_state(
    cluster: &Arc<Cluster>,
    node: NodeId,
) -> (super::NodeState, Option<super::load::Load>) {
    use super::NodeState;
    if node == cluster.node() {
        return (NodeState::Alive, Some(load_here(cluster)));
    }
    if cluster.liveness.is_dead(node) {
        return (NodeState::Dead, None);
    }
    match ping_answer(cluster, node).await {
        (Ping::Answered, answer) => {
            cluster.liveness.heard(node);
            let load = answer.and_then(|bytes| wire::decode(&bytes).ok());
            (NodeState::Alive, load)
        }
        (Ping::Silent, _) => (NodeState::Silent, None),
        (Ping::Gone, _) => (NodeState::Gone, None),
    }
}

/// Pings `node`, waiting at most [`PING_TIMEOUT`].
pub(crate) async fn ping(cluster: &Arc<Cluster>, node: NodeId) -> Ping {
    ping_answer(cluster, node).await.0
}

/// Pings `node`: how it answered, and what it said (its load, `load.rs`).
pub(crate) async fn ping_answer(cluster: &Arc<Cluster>, node: NodeId) -> (Ping, Option<Bytes>) {
    let (answer, done) = detached_pair::<Bytes>();
    let id = cluster.calls.insert_raw(
        ActorLabel::new("node", None),
        "ping",
        Box::new(move |result| done.complete(result)),
    );
    cluster.publish(OutboundMessage {
        subject: cluster.subjects.ping(node).into(),
        reply: Some(cluster.subjects.inbox(id).into()),
        payload: Bytes::new(),
        headers: None,
    });
    match tokio::time::timeout(PING_TIMEOUT, answer).await {
        Ok(Ok(bytes)) => (Ping::Answered, Some(bytes)),
        Ok(Err(crate::ActorError::ActorUnavailable { .. })) => (Ping::Gone, None),
        Ok(Err(_)) => (Ping::Silent, None),
        Err(_) => {
            drop(cluster.calls.take_raw(id));
            (Ping::Silent, None)
        }
    }
}
