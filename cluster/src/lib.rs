//! Cluster mode for helio: the same typed handles across processes, over NATS.
//!
//! Users depend on the `helio` facade, whose `cluster` feature re-exports this crate. It sits
//! above `helio-runtime` and reaches it only through the runtime's seam
//! (`helio_runtime::seam`): it implements the seam's `RemoteActor` (for handles to actors
//! hosted elsewhere) and `Cluster` (what the runtime asks: place, claim, look up, list,
//! addresses), installs them when the runtime starts it, and removes them at shutdown.
//!
//! - `init.rs`: [`Config`] and [`init`]: the runtime's settings plus where the cluster is.
//! - `config.rs`: where the cluster is and how to authenticate.
//! - `hooks.rs`: the seam's `Cluster`, installed while this process is in a cluster.
//! - `node.rs`: nodes, and what [`nodes`] says of each.
//! - `subjects.rs`: the NATS subjects of a cluster, built and parsed in one place.
//! - `wire.rs`: headers, and how values and failures cross the wire.
//! - `batch.rs`: many small messages to one destination as one NATS message.
//! - `limit.rs`: the server's `max_payload`, and what becomes of a message over it.
//! - `objects.rs`: the values too large for one message, held for their readers.
//! - `fetch.rs`: reading such a value from its holder, in chunks.
//! - `intake.rs`: a subscription's messages in order, each whole (fetched when held).
//! - `refs.rs`: `ObjectRef`s across processes: the values shared, their borrowers counted.
//! - `durable.rs`: values that outlive their owner, in the JetStream object store.
//! - `sweeping.rs`: a holder's subscription, served beside a periodic sweep.
//! - `writer.rs`: the one task that publishes every outgoing message, in batches.
//! - `registry.rs`: names and nodes in a JetStream key-value bucket.
//! - `deaths.rs`: final deaths: tombstones, who writes and reads them, their retention.
//! - `types.rs`: the table of registered actor types (how to serve and call each).
//! - `register.rs`: `register::<A>()`, which fills it.
//! - `claim.rs`: a named actor claims its name in the cluster as it is created.
//! - `host.rs`: serves a local actor to the cluster; records its death.
//! - `served.rs`: the actors this process serves to the cluster.
//! - `handles.rs`: the addresses of handles that cross processes.
//! - `address.rs`: an actor's address as its callers hold it (its host as last known).
//! - `calls.rs`: the calls waiting for their replies.
//! - `inflight.rs`: the calls this process serves for others, to cancel them or grant credit.
//! - `answered.rs`: the replies sent lately to calls that may come again after an outage.
//! - `inbox.rs`: the process's reply inbox, which resolves them.
//! - `client.rs`: remote handles (`Link`) and their calls.
//! - `remote_stream.rs`: streaming calls to an actor in another process.
//! - `unanswered.rs`: calls that will get no reply from where they went.
//! - `verdict.rs`: what a call concludes when its actor does not answer (died, or unavailable).
//! - `rerun.rs`: calls a dead node owed, run again on the actor's new host.
//! - `epoch.rs`: the outages of each process's connection to NATS, counted (pure).
//! - `outage.rs`: calls an outage may have lost: sent again, or failed.
//! - `placement.rs`: creating actors on other nodes (`Placement::Node`, `Placement::Any`).
//! - `load.rs`: what each node has and holds (what it answers a ping with).
//! - `schedule.rs`: the node an actor goes to (the least-loaded where it fits).
//! - `placing.rs`: the actors this process is placing on other nodes, not yet answered.
//! - `task_table.rs`: the table of registered tasks.
//! - `tasks.rs`: `register_task`, and a node taking a task another process sent.
//! - `line.rs`: the tasks this process waits to place, and the room nodes reported (pure).
//! - `dispatch.rs`: a task's way from its caller to a node: drives the line, sends, and
//!   hears the ack, a refusal or the result.
//! - `room.rs`: a node's room: answers asks, reports room each time resources are freed.
//! - `task_acks.rs`: the tasks sent that wait for their ack.
//! - `liveness.rs`: which nodes this process heard lately, and which it found dead.
//! - `watchdog.rs`: heartbeats and pings; what follows a node's death.
//! - `revive.rs`: a dead node's detached actors restart on a live node.
//! - `fence.rs`: a node cut off from the cluster stops its detached actors.
//!
//! One `Cluster` per process, made by `helio::init(Config::cluster(url))`. Its tasks run on
//! helio's embedded runtime (or the pinned one): a writer that publishes every outgoing
//! message in order, and a reader of the process's one reply inbox. Neither ever blocks on
//! user code: async-nats drops messages silently when a subscription's buffer is full.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod address;
mod answered;
mod batch;
mod bundle_plan;
mod bundles;
mod calls;
mod claim;
mod client;
mod config;
mod deaths;
mod dispatch;
mod durable;
mod epoch;
mod fence;
mod fetch;
mod handles;
mod hooks;
mod host;
mod inbox;
mod inflight;
mod init;
mod intake;
mod limit;
mod line;
pub(crate) mod liveness;
mod load;
mod node;
mod objects;
mod outage;
mod placement;
mod placing;
mod refs;
mod register;
mod registry;
mod remote_stream;
mod replicas;
mod rerun;
mod revive;
mod room;
mod schedule;
mod served;
mod spare;
mod subjects;
mod sweeping;
mod task_acks;
mod task_table;
pub(crate) mod tasks;
mod types;
mod unanswered;
mod verdict;
mod watchdog;
mod wire;
mod writer;

use std::{
    sync::{Arc, PoisonError, RwLock},
    time::Duration,
};

use tokio::{runtime::Handle, sync::mpsc};

pub use bundles::{PlacementGroupInfo, placement_groups};
pub use config::ClusterConfig;
pub use durable::{delete_durable, put_durable};
use helio_runtime::{
    Actor, ActorClass, ActorError, ActorInfo, ActorOptions, ActorState, CallOptions, DeathCause,
    LookupError, NodeId, Placement, RuntimeError, TaskOptions, kill,
    seam::{self, MsgPack, detached_pair},
};
pub use init::{Config, init};
pub use liveness::NodeDeaths;
pub use node::{NodeInfo, NodeState, ResourceUse};
pub use objects::{ObjectStats, object_stats};
pub use register::register;
pub use tasks::register_task;

/// The NATS client, for the raw baseline of the cluster benchmarks. Not a stable API.
#[doc(hidden)]
pub use async_nats;

/// This process's membership in a cluster.
pub(crate) struct Cluster {
    client: async_nats::Client,
    /// A second connection, for bulk data only: the chunks of values too large for one
    /// message (`objects.rs`, `fetch.rs`), so that they never hold up control messages.
    data: async_nats::Client,
    /// The subjects of this cluster, as this node sees them.
    subjects: subjects::Subjects,
    info: node::NodeInfo,
    registry: registry::Registry,
    handle: Handle,
    /// Every outgoing message, published in order by the writer task.
    out: mpsc::UnboundedSender<async_nats::message::OutboundMessage>,
    calls: calls::Calls,
    /// The replies sent lately to calls that may come again after an outage.
    answered: answered::Answered,
    /// The outages of this process's connection, and each other node's as heard.
    epochs: epoch::Epochs,
    /// The local actors this process serves to the cluster.
    served: served::Served,
    /// The calls this process serves for others, by reply subject, to cancel them.
    inflight: inflight::Inflight,
    /// When each other node was last heard.
    liveness: liveness::Liveness,
    /// Actors of dead nodes being restarted here.
    adoptions: revive::Adoptions,
    /// Whether this node is cut off from the cluster, and what it stopped then.
    fence: fence::Fence,
    /// How long a node may be silent before a ping decides whether it is dead.
    node_timeout: Duration,
    /// Whether this process hosts actors for others (`Config::host`).
    hosts: bool,
    /// When this process drops the tombstones beyond the retention
    /// (`Config::dead_actors_kept`).
    sweeper: deaths::Sweeper,
    /// The calls waiting for a verdict on their silent actor.
    settling: verdict::Settling,
    /// The tasks this process sent that wait for their ack.
    acks: task_acks::Acks,
    /// The tasks this process waits to place on a node with room.
    pull: dispatch::Pull,
    /// The callers that want room on this node.
    rooms: room::Rooms,
    /// The actors this process is placing on other nodes (`Placement::Any`), by node.
    placing: placing::Placing,
    /// The values this process holds for other processes to read.
    objects: objects::Objects,
    /// The values this process is reading from other processes.
    fetches: fetch::Fetches,
    /// The buffer of the last large value read, kept a short while for the next.
    spare: Arc<spare::Spare>,
    /// The values of this process that other processes hold refs to.
    shared: refs::Shared,
    /// The cluster's name (`Config::cluster_name`).
    cluster_name: String,
    /// How many servers keep each JetStream stream helio creates (`Config::replicas`).
    replicas: usize,
    /// The object store of durable values, once opened (`durable.rs`).
    durable: tokio::sync::OnceCell<async_nats::jetstream::object_store::ObjectStore>,
    /// How long it keeps a value nothing deleted, when this process creates it.
    durable_kept: Duration,
}

static CURRENT: RwLock<Option<Arc<Cluster>>> = RwLock::new(None);

/// The cluster this process has joined, if any. Taken at spawn and lookup, never per call.
pub(crate) fn current() -> Option<Arc<Cluster>> {
    CURRENT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

impl Cluster {
    fn node(&self) -> NodeId {
        self.info.id
    }

    /// Publishes a heartbeat, with this process's connection epoch (`outage.rs`).
    fn beat(&self) {
        self.publish(async_nats::message::OutboundMessage {
            subject: self.subjects.heartbeat(self.node()).into(),
            reply: None,
            payload: epoch::heartbeat(self.epochs.own()),
            headers: None,
        });
    }

    /// The ids of this process's calls among `messages` (by their reply subjects).
    fn own_calls(&self, messages: &[async_nats::message::OutboundMessage]) -> Vec<u64> {
        messages
            .iter()
            .filter_map(|m| self.subjects.own_call(m.reply.as_deref()?))
            .collect()
    }

    /// Answers a request on its reply subject: the encoded result, or the failure.
    fn reply(&self, subject: async_nats::Subject, result: Result<Vec<u8>, wire::Failure>) {
        self.reply_from(subject, result, false);
    }

    /// As [`reply`](Cluster::reply), naming this node as the one that answered when `moved`
    /// (it serves an actor created elsewhere).
    fn reply_from(
        &self,
        subject: async_nats::Subject,
        result: Result<Vec<u8>, wire::Failure>,
        moved: bool,
    ) {
        self.reply_bytes(subject, result.map(bytes::Bytes::from), moved);
    }

    /// As [`reply_from`](Cluster::reply_from), with the result's bytes shared.
    fn reply_bytes(
        &self,
        subject: async_nats::Subject,
        result: Result<bytes::Bytes, wire::Failure>,
        moved: bool,
    ) {
        let (status, payload) = match result {
            Ok(bytes) => ("ok", bytes),
            Err(failure) => (
                "err",
                bytes::Bytes::from(wire::encode(&failure).unwrap_or_default()),
            ),
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(wire::CODEC, wire::CODEC_ID);
        headers.insert(wire::STATUS, status);
        if moved {
            headers.insert(wire::NODE, self.node().to_string().as_str());
        }
        self.publish(async_nats::message::OutboundMessage {
            subject,
            reply: None,
            payload,
            headers: Some(headers),
        });
    }

    /// Subscribes `subject`, and waits until the server has the subscription (so that a
    /// record naming it is never seen before it is served).
    async fn subscribe_flushed(&self, subject: String) -> Result<async_nats::Subscriber, String> {
        let sub = self
            .client
            .subscribe(subject)
            .await
            .map_err(|err| format!("could not subscribe: {err}"))?;
        self.client
            .flush()
            .await
            .map_err(|err| format!("the server did not answer: {err}"))?;
        Ok(sub)
    }

    /// Sends a control message (a verb: credit, cancel) with `payload` to `subject` (an actor's
    /// subject, or a node's task cancels).
    fn control(&self, subject: &async_nats::Subject, verb: &str, payload: Vec<u8>) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(wire::CODEC, wire::CODEC_ID);
        headers.insert(wire::METHOD, verb);
        self.publish(async_nats::message::OutboundMessage {
            subject: subject.clone(),
            reply: None,
            payload: bytes::Bytes::from(payload),
            headers: Some(headers),
        });
    }

    /// Queues a message for the writer task.
    fn publish(&self, message: async_nats::message::OutboundMessage) {
        if self.out.send(message).is_err() {
            tracing::debug!("cluster writer stopped; message dropped");
        }
    }
}

/// Runs `future` on the cluster's runtime and blocks for at most `timeout` for its output.
fn block_on<T: Send + 'static>(
    handle: &Handle,
    timeout: Duration,
    future: impl Future<Output = T> + Send + 'static,
) -> Result<T, ActorError> {
    let (result, done) = detached_pair();
    handle.spawn(async move { done.complete(Ok(future.await)) });
    result.get_timeout(timeout)
}

/// Joins the cluster `config` names: connects, opens the registry and publishes this node.
pub(crate) fn start(config: &ClusterConfig, handle: Handle) -> Result<(), RuntimeError> {
    let failed = |message: String| RuntimeError::Cluster {
        url: config.url.clone(),
        message,
    };
    config.check().map_err(RuntimeError::InvalidConfig)?;
    let connect = config.clone().connect();
    let timeout = config.connect_timeout + Duration::from_secs(5);
    let (client, data, registry, events) = block_on(&handle, timeout, connect)
        .map_err(|err| failed(err.to_string()))?
        .map_err(failed)?;
    let info = NodeInfo {
        id: node::random_id(),
        name: config.node_name(),
        pid: std::process::id(),
        host: node::host_name(),
        started_at: node::now_millis(),
        actors: Vec::new(),
        resources: Vec::new(),
        running_tasks: 0,
        waiting_tasks: 0,
        actor_count: 0,
        state: NodeState::default(),
        last_heard: None,
        connection_losses: 0,
    };
    let (out, outgoing) = mpsc::unbounded_channel();
    let cluster = Arc::new(Cluster {
        client: client.clone(),
        data,
        subjects: subjects::Subjects::new(&config.cluster_name, info.id),
        info,
        registry,
        handle: handle.clone(),
        out,
        calls: calls::Calls::default(),
        answered: answered::Answered::default(),
        epochs: epoch::Epochs::default(),
        served: served::Served::default(),
        inflight: inflight::Inflight::default(),
        liveness: liveness::Liveness::default(),
        adoptions: revive::Adoptions::default(),
        fence: fence::Fence::default(),
        node_timeout: config.node_timeout,
        hosts: config.hosts,
        sweeper: deaths::Sweeper::new(config.retention),
        settling: verdict::Settling::default(),
        acks: task_acks::Acks::default(),
        pull: dispatch::Pull::default(),
        rooms: room::Rooms::default(),
        placing: placing::Placing::default(),
        objects: objects::Objects::default(),
        fetches: fetch::Fetches::default(),
        spare: Arc::default(),
        shared: refs::Shared::default(),
        cluster_name: config.cluster_name.clone(),
        replicas: config.replicas_for(&client.server_info()),
        durable: tokio::sync::OnceCell::new(),
        durable_kept: config.durable_kept,
    });
    let joined = {
        let cluster = Arc::clone(&cluster);
        async move {
            let inbox = inbox::listen(&cluster).await?;
            objects::listen(&cluster).await?;
            fetch::listen(&cluster).await?;
            refs::listen(&cluster).await?;
            placement::listen(&cluster).await?;
            bundles::listen(&cluster).await?;
            dispatch::listen(&cluster).await?;
            tasks::listen(&cluster).await?;
            watchdog::start(&cluster).await?;
            cluster.registry.put_node(&cluster.info).await?;
            Ok::<_, String>(inbox)
        }
    };
    let inbox = block_on(&handle, timeout, joined)
        .map_err(|err| failed(err.to_string()))?
        .map_err(failed)?;
    handle.spawn(writer::write(client, Arc::downgrade(&cluster), outgoing));
    handle.spawn(inbox::read_inbox(Arc::downgrade(&cluster), inbox));
    handle.spawn(outage::watch(Arc::downgrade(&cluster), events));
    seam::set_node(cluster.node().as_u64());
    let router = tasks::ClusterRouter(Arc::downgrade(&cluster));
    seam::route_through(Some(Arc::new(router)));
    room::start(&cluster);
    *CURRENT.write().unwrap_or_else(PoisonError::into_inner) = Some(cluster);
    seam::install(Some(Arc::new(hooks::Hooks)));
    Ok(())
}

/// Leaves the cluster: removes this node's record, then drops the connection (at shutdown).
pub(crate) fn stop() {
    let Some(cluster) = CURRENT
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    else {
        return;
    };
    seam::install(None);
    seam::set_node(0);
    seam::route_through(None);
    room::stop();
    // The tasks running here go back to their callers, to run elsewhere.
    tasks::hand_back(&cluster);
    let leave = {
        let cluster = Arc::clone(&cluster);
        async move {
            cluster.registry.remove_node(cluster.node()).await;
            cluster.registry.release_node_names(cluster.node()).await;
            let _ = cluster.client.flush().await;
        }
    };
    if let Err(err) = block_on(&cluster.handle, Duration::from_secs(2), leave) {
        tracing::warn!(%err, "could not leave the cluster cleanly");
    }
    cluster
        .calls
        .fail_all("this process left the cluster before the reply came");
    dispatch::leave(&cluster);
}

/// With `dead` false, the live named actors of the other nodes (`None` outside cluster mode),
/// each asked for its state; one whose host does not answer within 2 s is `Unreachable`. With
/// `dead`, the named actors of every node that died for good, from their tombstones.
pub(crate) fn list_remote(dead: bool) -> Option<Vec<crate::ActorInfo>> {
    let cluster = current()?;
    let registry = cluster.registry.clone();
    let me = cluster.node();
    let scan = async move {
        let actors = registry.scan::<registry::ActorRecord>("name.").await?;
        let nodes = registry.scan::<NodeInfo>("node.").await?;
        Ok::<_, String>((actors, nodes))
    };
    let (records, nodes) = match block_on(&cluster.handle, Duration::from_secs(10), scan) {
        Ok(Ok(found)) => found,
        Ok(Err(err)) => {
            tracing::warn!(%err, "could not list the cluster's actors");
            return Some(Vec::new());
        }
        Err(err) => {
            tracing::warn!(%err, "could not list the cluster's actors");
            return Some(Vec::new());
        }
    };
    let infos = records
        .into_iter()
        .filter(|record| {
            if dead {
                record.death.is_some()
            } else {
                record.death.is_none() && record.host() != me
            }
        })
        .map(|record| {
            let (state, restarts) = match &record.death {
                Some(death) => (
                    crate::ActorState::Dead(death.cause.clone().into_cause()),
                    death.restarts,
                ),
                None => client::state_of(&cluster, &record)
                    .unwrap_or((crate::ActorState::Unreachable, 0)),
            };
            // Where it runs now (or ran last): another node may have restarted it.
            let host = record.host();
            let pid = nodes.iter().find(|n| n.id == host).map(|n| n.pid);
            ActorInfo::from(seam::InfoParts {
                namespace: record.namespace,
                name: record.name,
                type_name: record.type_name,
                state,
                restarts,
                detached: record.detached,
                node: Some(host),
                pid,
            })
        })
        .collect();
    Some(infos)
}

/// Whether this process has found `node` dead (always `false` outside cluster mode). A node
/// found dead stays dead: a process that comes back joins as a new node.
///
/// ```no_run
/// let me = helio_runtime::current_node().expect("cluster mode");
/// assert!(!helio_cluster::is_node_dead(me));
/// ```
pub fn is_node_dead(node: NodeId) -> bool {
    current().is_some_and(|cluster| cluster.liveness.is_dead(node))
}

/// A watch of the nodes this process finds dead from now on; `None` outside cluster mode.
/// See [`NodeDeaths`].
pub fn node_deaths() -> Option<NodeDeaths> {
    current().map(|cluster| cluster.liveness.deaths())
}

/// Every node of the cluster that has a record in its registry (empty outside cluster mode),
/// sorted by name, each pinged for its [`state`](NodeInfo::state). Blocks for the registry's
/// answer (at most 10 s) and the pings (at most 1 s, all at once).
///
/// ```no_run
/// for node in helio_cluster::nodes() {
///     println!("{} {} pid {}", node.id, node.name, node.pid);
/// }
/// ```
pub fn nodes() -> Vec<NodeInfo> {
    let Some(cluster) = current() else {
        return Vec::new();
    };
    let registry = cluster.registry.clone();
    let asking = Arc::clone(&cluster);
    let scan = async move {
        let mut nodes = registry.scan::<NodeInfo>("node.").await?;
        let actors = registry.scan::<registry::ActorRecord>("name.").await?;
        let states = futures::future::join_all(
            nodes
                .iter()
                .map(|node| watchdog::node_state(&asking, node.id)),
        )
        .await;
        for (node, (state, load)) in nodes.iter_mut().zip(states) {
            node.state = state;
            let load = load.unwrap_or_default();
            node.resources = load
                .uses()
                .into_iter()
                .map(|(name, used, total)| node::ResourceUse { name, used, total })
                .collect();
            node.running_tasks = load.running;
            node.waiting_tasks = load.waiting;
            node.actor_count = load.actors;
            node.last_heard = asking.liveness.heard_ago(node.id);
        }
        Ok::<_, String>((nodes, actors))
    };
    match block_on(&cluster.handle, Duration::from_secs(12), scan) {
        Ok(Ok((mut nodes, actors))) => {
            for node in &mut nodes {
                node.actors = actors
                    .iter()
                    .filter(|a| a.host() == node.id && a.death.is_none())
                    .map(|a| format!("{}/{}", a.namespace, a.name))
                    .collect();
                node.actors.sort();
            }
            nodes.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
            nodes
        }
        Ok(Err(err)) => {
            tracing::warn!(%err, "could not list the cluster's nodes");
            Vec::new()
        }
        Err(err) => {
            tracing::warn!(%err, "could not list the cluster's nodes");
            Vec::new()
        }
    }
}
