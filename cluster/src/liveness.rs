//! Which nodes are alive: heartbeats, direct pings, and what follows a death: the calls the
//! dead node owes fail, and its detached actors restart elsewhere (`revive.rs`).
//!
//! Every node publishes a heartbeat to `helio.<cluster>.hb.<node>` three times per
//! `node_timeout` and answers pings on `helio.<cluster>.ping.<node>`. Every node notes, on its
//! own monotonic clock, when it last heard each other node. A watchdog looks at the nodes this
//! process waits on (calls and streams in flight): one silent for longer than `node_timeout`
//! that also fails a direct ping is dead, and every call it owes resolves to
//! `ActorUnavailable` (`unanswered.rs`), so that nothing waits for a process that is gone.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError, Weak},
    time::{Duration, Instant},
};

use async_nats::message::OutboundMessage;
use bytes::Bytes;
use futures::StreamExt;

use super::{Cluster, NodeId, wire};
use crate::{seam::ActorLabel, seam::detached_pair};

/// The count of nodes found dead.
struct Deaths(tokio::sync::watch::Sender<u64>);

impl Default for Deaths {
    fn default() -> Self {
        Deaths(tokio::sync::watch::Sender::new(0))
    }
}

/// Tells when this process finds another node of the cluster dead: from
/// [`node_deaths`](crate::node_deaths). Ask [`is_node_dead`](crate::is_node_dead) which.
///
/// ```no_run
/// # async fn watch() {
/// let Some(mut deaths) = helio_cluster::node_deaths() else {
///     return; // not in cluster mode
/// };
/// let watched: helio_runtime::NodeId = helio_runtime::current_node().unwrap();
/// while deaths.changed().await {
///     if helio_cluster::is_node_dead(watched) {
///         println!("{watched} is dead");
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct NodeDeaths(tokio::sync::watch::Receiver<u64>);

impl NodeDeaths {
    /// Waits until another node is found dead (`true`), or the process leaves the cluster
    /// (`false`: no more deaths will be told).
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}

/// How long a ping may take.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// When this process last heard each node, and which nodes it found dead.
#[derive(Default)]
pub(crate) struct Liveness {
    /// How many nodes this process found dead so far: watched by [`NodeDeaths`].
    deaths: Deaths,
    /// When each node was last heard, or first noticed (the start of its clock).
    heard: Mutex<HashMap<NodeId, Instant>>,
    /// When each node was last heard for real: a heartbeat, or an answer to a ping.
    seen: Mutex<HashMap<NodeId, Instant>>,
    dead: Mutex<std::collections::HashSet<NodeId>>,
}

impl Liveness {
    /// Whether this process found `node` dead.
    pub(crate) fn is_dead(&self, node: NodeId) -> bool {
        self.dead
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&node)
    }

    /// Records `node` as dead; `false` when it was already.
    fn bury(&self, node: NodeId) -> bool {
        self.heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&node);
        let fresh = self
            .dead
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node);
        if fresh {
            self.deaths.0.send_modify(|count| *count += 1);
        }
        fresh
    }

    /// A watch of the deaths this process finds from now on.
    pub(crate) fn deaths(&self) -> NodeDeaths {
        NodeDeaths(self.deaths.0.subscribe())
    }

    /// Every node heard so far and not found dead.
    fn known(&self) -> Vec<NodeId> {
        self.heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }

    fn heard(&self, node: NodeId) {
        if self.is_dead(node) {
            // A node found dead stays dead: its actors may run elsewhere now.
            return;
        }
        let now = Instant::now();
        self.heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node, now);
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node, now);
    }

    /// Starts every node's clock again: this node was cut off, and heard nothing of anyone.
    pub(crate) fn restart_clocks(&self) {
        let now = Instant::now();
        for heard in self
            .heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values_mut()
        {
            *heard = now;
        }
    }

    /// Notes `node` (from the registry), starting its clock if it was never heard.
    fn noticed(&self, node: NodeId) {
        if self.is_dead(node) {
            return;
        }
        self.heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(node)
            .or_insert_with(Instant::now);
    }

    /// How long ago `node` was last heard; `None` when it never was.
    pub(crate) fn heard_ago(&self, node: NodeId) -> Option<Duration> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(&node).map(Instant::elapsed)
    }

    /// When `node` was last heard; a node never heard counts as heard `now` (the first
    /// look starts its clock).
    fn last_heard(&self, node: NodeId, now: Instant) -> Instant {
        *self
            .heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(node)
            .or_insert(now)
    }
}

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
            Some(node) => cluster.liveness.heard(node),
            None => {}
        }
    }
}

async fn answer_pings(cluster: Weak<Cluster>, mut pings: async_nats::Subscriber) {
    while let Some(message) = pings.next().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        if let Some(reply) = message.reply {
            // The answer says what this node has and holds (`load.rs`).
            let load = super::load::Load::here(&cluster);
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
        cluster.publish(OutboundMessage {
            subject: cluster.subjects.heartbeat(cluster.node()).into(),
            reply: None,
            payload: Bytes::new(),
            headers: None,
        });
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
            cluster.sweep();
        }
        // Nodes this process never heard (it joined after they went silent) are in the
        // registry: look there now and then.
        if round % 3 == 0
            && let Ok(nodes) = cluster.registry.scan::<super::NodeInfo>("node.").await
        {
            for node in nodes {
                cluster.liveness.noticed(node.id);
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

/// What a ping says of `node` now (this node is alive to itself), with its load when it
/// answered.
pub(crate) async fn node_state(
    cluster: &Arc<Cluster>,
    node: NodeId,
) -> (super::NodeState, Option<super::load::Load>) {
    use super::NodeState;
    if node == cluster.node() {
        return (NodeState::Alive, Some(super::load::Load::here(cluster)));
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
