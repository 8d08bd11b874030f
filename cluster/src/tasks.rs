//! Tasks across processes: `helio::register_task(&f)` and where a registered task runs.
//!
//! - **Where.** A task of a registered fn runs here when this process hosts and its demand
//!   fits here now. Otherwise, one that asks for resources (`num_cpus = 1` by default) goes
//!   to a node that has them free now: it waits in this process's line (`line.rs`, driven by
//!   `pull.rs`) until a node that runs the fn reports room for it (`room.rs`), and the node
//!   takes it only if it can start it at once, refusing it otherwise (it then waits again).
//!   So no node holds work another could start, and a task waits cluster-wide, not in one
//!   node's line. A task that asks for nothing goes to `helio.<cluster>.task.<fingerprint>`,
//!   where every hosting node that registered the fn listens in one queue group.
//! - **Who took it.** The request's reply subject is an ack, and header [`RESULT_TO`] names a
//!   second inbox entry of the caller for the result. A task that returns within
//!   [`ACK_WITHIN`] sends its result alone (one message back, as a call's reply; the caller
//!   then drops the ack's entry). A longer one acks with the taking node's id first, so the
//!   result's entry waits on that node and the node's death resolves it
//!   (`unanswered::node_died`); it then runs again on another node while `max_retries` allows, and
//!   otherwise resolves to `ActorDied { cause: NodeDied }`. A task sent to a node with room
//!   waits on that node from the start.
//! - **Never acked.** A node that dies as it takes a task, before its ack, is not one the
//!   caller knows of: a task with neither ack nor result for a while resolves to
//!   `ActorUnavailable` ([`Acks`](super::task_acks::Acks)), so its caller never waits forever.
//! - **Nobody.** With no node registered, the server answers "no responders" (to the ack, or
//!   to the line's ask for room), and the task resolves to `ActorUnavailable` (a node may
//!   register it later: transient).

use std::{
    any::TypeId,
    sync::{Arc, Mutex, PoisonError, Weak},
    time::{Duration, Instant},
};

use async_nats::{HeaderMap, Message, message::OutboundMessage};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{
    Cluster, MsgPack, NodeId,
    calls::{Complete, Pending},
    current,
    load::Load,
    pull,
    task_table::{self, Running, TaskEntry},
    types::fingerprint,
    unanswered,
    wire::{self, CODEC, CODEC_ID, FINGERPRINT, Failure},
};
use crate::{
    ActorError, DeathCause, TaskOptions,
    seam::ActorLabel,
    seam::{Codec, WireError},
    seam::{Held, RemoteFn, Resources, Task},
};

/// Why a task fails when no node of the cluster runs its fn.
pub(crate) const NOBODY: &str = "no node of the cluster runs it: register it with \
                                 `helio::register_task` in a process that hosts \
                                 (`Config::host(true)`)";

/// The header naming the caller's inbox entry for a task's result.
const RESULT_TO: &str = "Helio-Result-To";

/// The header naming where the caller of a task sent to a node with room wants that node's
/// next reports of room (`room.rs`).
const ROOM_TO: &str = "Helio-Room-To";

/// How long a node running a task waits for its result before it acks: a task done by then
/// sends its result alone.
const ACK_WITHIN: Duration = Duration::from_millis(1);

/// Lets this process run the task `f` for the cluster and send it to other nodes (cluster
/// mode): call it in every process that runs or calls `f`. Registering twice is harmless.
/// It compiles only when `f`'s arguments and result are `serde::Serialize +
/// serde::de::DeserializeOwned`; the error names the type that is not.
///
/// A task of a registered fn runs in this process when it hosts (`Config::host`) and has the
/// task's resources free now, and otherwise on another node that registered it. If that node
/// dies before the task returns, the task runs again on another node while its `max_retries`
/// allow. Unregistered, a task always runs where it is called.
///
/// ```
/// use helio::prelude::*;
///
/// #[remote]
/// fn double(x: u64) -> u64 { 2 * x }
///
/// helio_cluster::register_task(&double);
/// assert_eq!(helio::get(double.remote(2)).unwrap(), 4); // not in a cluster: runs here
/// ```
pub fn register_task<F, Args, R>(task: &Task<F, Args, R>)
where
    F: RemoteFn<Args = Args, Output = R>,
    Args: Send + 'static,
    R: Send + 'static,
    MsgPack: Codec<Args> + Codec<R>,
{
    let _ = task;
    let signature = format!(
        "{}->{}",
        std::any::type_name::<Args>(),
        std::any::type_name::<R>()
    );
    let entry = TaskEntry {
        fingerprint: fingerprint(F::NAME, &signature),
        encode: |args| match args.downcast::<Args>() {
            Ok(args) => <MsgPack as Codec<Args>>::encode(&args),
            Err(_) => Err(WireError("a task's arguments of another type".to_owned())),
        },
        decode: |bytes| Ok(Box::new(<MsgPack as Codec<R>>::decode(bytes)?)),
        run: run_encoded::<F, Args, R>,
    };
    let fresh = task_table::insert(TypeId::of::<F>(), entry);
    // Registered after joining: take a share of its tasks now, and return once the server
    // has the subscriptions (a cluster joined later subscribes every registered task itself).
    if fresh && let Some(cluster) = current() {
        let listening = Arc::clone(&cluster);
        let subscribed = super::block_on(
            &cluster.handle,
            std::time::Duration::from_secs(10),
            async move { listen_one(&listening, entry).await },
        );
        match subscribed {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(%err, "tasks of a registered fn not served"),
            Err(err) => tracing::warn!(%err, "tasks of a registered fn not served"),
        }
    }
}

/// Runs `F` here on encoded arguments (for another node), on `held` resources when given.
fn run_encoded<F, Args, R>(
    options: TaskOptions,
    args: &[u8],
    held: Option<Held>,
) -> Result<Running, WireError>
where
    F: RemoteFn<Args = Args, Output = R>,
    Args: Send + 'static,
    R: Send + 'static,
    MsgPack: Codec<Args> + Codec<R>,
{
    let args = <MsgPack as Codec<Args>>::decode(args)?;
    let result = match held {
        Some(held) => crate::seam::submit_holding::<F>(options, args, held),
        None => crate::seam::submit_here::<F>(options, args),
    };
    let cancel = crate::seam::canceller_of(&result);
    Ok(Running {
        result: Box::pin(async move {
            let value = result.await?;
            <MsgPack as Codec<R>>::encode(&value).map_err(|err| ActorError::Wire { message: err.0 })
        }),
        cancel,
    })
}

/// The cluster's side of the task seam (`task::Router`): where the tasks of registered fns go.
pub(crate) struct ClusterRouter(pub(crate) Weak<Cluster>);

impl crate::seam::Router for ClusterRouter {
    fn routes(&self, task: TypeId) -> Option<bool> {
        let cluster = self.0.upgrade()?;
        task_table::get(task)?;
        Some(cluster.hosts)
    }

    fn send(&self, task: TypeId, sent: crate::seam::Sent) -> Box<dyn FnOnce() + Send> {
        let entry = task_table::get(task);
        let (Some(cluster), Some(entry)) = (self.0.upgrade(), entry) else {
            (sent.answer)(Err(ActorError::ActorUnavailable {
                actor: sent.label,
                method: sent.method,
                message: "this process left the cluster".to_owned(),
            }));
            return Box::new(|| {});
        };
        let ticket = send(&cluster, entry, sent);
        Box::new(move || ticket.cancel())
    }
}

/// Sends a task of `entry`'s fn to the cluster; its result or error goes to `sent.answer`.
/// The ticket cancels it where it runs.
fn send(cluster: &Arc<Cluster>, entry: TaskEntry, sent: crate::seam::Sent) -> Ticket {
    let crate::seam::Sent {
        label,
        method,
        options,
        demand,
        args,
        answer: done,
    } = sent;
    let ticket = Ticket {
        cluster: Arc::downgrade(cluster),
        taken: Arc::new(Mutex::new(Taken::default())),
    };
    let args = match (entry.encode)(args) {
        Ok(args) => args,
        Err(err) => {
            done(Err(ActorError::Wire {
                message: format!("the task's arguments do not encode: {err}"),
            }));
            return ticket;
        }
    };
    let request = match wire::encode(&TaskRequest {
        options: options.clone(),
        args,
    }) {
        Ok(request) => Bytes::from(request),
        Err(err) => {
            done(Err(ActorError::Wire {
                message: format!("the task's options do not encode: {err}"),
            }));
            return ticket;
        }
    };
    let decode = entry.decode;
    let now = Instant::now();
    let deadline = crate::seam::task_resource_timeout(&options).map(|timeout| now + timeout);
    attempt(Attempt {
        cluster: Arc::clone(cluster),
        fingerprint: entry.fingerprint,
        request,
        label,
        method,
        retries: options.node_retries(),
        demand,
        since: now,
        deadline,
        taken: Arc::clone(&ticket.taken),
        done: Box::new(move |result: Result<Bytes, ActorError>| {
            done(result.and_then(|bytes| {
                decode(&bytes).map_err(|err| ActorError::Wire {
                    message: format!("the task's result does not decode: {err}"),
                })
            }));
        }),
    });
    ticket
}

/// Where a task sent to the cluster runs, once a node took it: to cancel it there.
pub(crate) struct Ticket {
    cluster: Weak<Cluster>,
    taken: Arc<Mutex<Taken>>,
}

/// What the caller knows of where its task runs.
#[derive(Default)]
struct Taken {
    /// The node that took it, and the subject it answers on (which names it there).
    by: Option<(NodeId, String)>,
    /// The caller cancelled before any node took it: the node that does is told at once.
    cancelled: bool,
}

impl Taken {
    /// Records that `node` took the task (answering on `call`); tells it to cancel the task
    /// when the caller already did.
    fn by(&mut self, cluster: &Cluster, node: NodeId, call: String) {
        if self.cancelled {
            send_cancel(cluster, node, &call);
        }
        self.by = Some((node, call));
    }
}

impl Ticket {
    /// Asks the node running the task to cancel it, now or as soon as a node takes it.
    pub(crate) fn cancel(&self) {
        let Some(cluster) = self.cluster.upgrade() else {
            return;
        };
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        taken.cancelled = true;
        if let Some((node, call)) = &taken.by {
            send_cancel(&cluster, *node, call);
        }
    }
}

fn send_cancel(cluster: &Cluster, node: NodeId, call: &str) {
    match wire::encode(&call.to_owned()) {
        Ok(payload) => cluster.control(
            &cluster.subjects.task_cancel(node).into(),
            wire::VERB_CANCEL,
            payload,
        ),
        Err(err) => tracing::debug!(%err, "a task's cancel not sent"),
    }
}

/// A task as it crosses: its options (the taking node applies them) and encoded arguments.
#[derive(Serialize, Deserialize)]
struct TaskRequest {
    options: TaskOptions,
    args: Vec<u8>,
}

/// One send of a task, and what it takes to send it again.
pub(crate) struct Attempt {
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) fingerprint: u64,
    request: Bytes,
    pub(crate) label: ActorLabel,
    pub(crate) method: &'static str,
    /// Runs left after a node death: `None` forever.
    retries: Option<u64>,
    /// What it holds while it runs: when not empty, it goes only to a node that has it free.
    pub(crate) demand: Resources,
    /// When it was (last) submitted.
    pub(crate) since: Instant,
    /// When it stops waiting for its resources (`resource_timeout`).
    pub(crate) deadline: Option<Instant>,
    /// Where the task runs now (the ticket's view).
    taken: Arc<Mutex<Taken>>,
    pub(crate) done: Complete,
}

impl Attempt {
    /// Whether its caller cancelled it (its ref says so already).
    pub(crate) fn is_cancelled(&self) -> bool {
        self.taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .cancelled
    }
}

/// What a node answers a task it was sent, on the task's ack subject.
#[derive(Serialize, Deserialize)]
enum TaskAck {
    /// It took the task, and runs it.
    Taken(NodeId),
    /// It has no room for it now: its load says what it has.
    Busy(Load),
}

/// Sends the task where it may go: one that asks for nothing to whichever node takes it,
/// any other through this process's line, to a node with room for it (`pull.rs`).
fn attempt(attempt: Attempt) {
    if attempt.demand.is_empty() {
        let subject = attempt.cluster.subjects.task(attempt.fingerprint);
        return send_to(attempt, subject, None);
    }
    pull::submit(attempt);
}

/// Sends the task to `node`, which has room for it as far as this process knows.
pub(crate) fn dispatch(attempt: Attempt, node: NodeId) {
    if attempt.is_cancelled() {
        return;
    }
    let subject = attempt.cluster.subjects.task_on(attempt.fingerprint, node);
    send_to(attempt, subject, Some(node));
}

/// Sends the task on `subject` (to `node`, when it goes to one), and waits on the node that
/// takes it.
fn send_to(attempt: Attempt, subject: String, node: Option<NodeId>) {
    let cluster = Arc::clone(&attempt.cluster);
    let (label, method) = (attempt.label.clone(), attempt.method);
    let request = attempt.request.clone();
    let fingerprint = attempt.fingerprint;
    let taken = Arc::clone(&attempt.taken);
    // The ack or the result comes first; a refusal takes the attempt back to the line.
    let attempt = Arc::new(Mutex::new(Some(attempt)));
    let take =
        |slot: &Mutex<Option<Attempt>>| slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    // The result: the node that took the task owes it; if that node dies first, the task
    // runs again elsewhere, or fails. A result that comes before the ack ends the wait for it.
    let ack = cluster.calls.reserve();
    let result = cluster.calls.reserve();
    let resulted = Arc::clone(&attempt);
    cluster.calls.insert_at(
        result,
        Pending {
            actor: label.clone(),
            method,
            node: None,
            complete: Box::new(move |outcome| {
                let Some(attempt) = take(&resulted) else {
                    return;
                };
                // A result before any ack: none will come.
                drop(attempt.cluster.calls.take(ack));
                match outcome {
                    Err(ActorError::ActorDied {
                        cause: DeathCause::NodeDied(node),
                        ..
                    }) if attempt.retries != Some(0) => {
                        tracing::info!(task = method, %node, "the task's node died; running it again");
                        self::attempt(Attempt {
                            retries: attempt.retries.map(|left| left - 1),
                            since: Instant::now(),
                            ..attempt
                        });
                    }
                    other => (attempt.done)(other),
                }
            }),
            rerun: None,
            dies_with_host: true,
            address: None,
        },
    );
    // The ack: which node took it, or that it has no room.
    let acked = Arc::clone(&cluster);
    cluster.calls.insert_at(
        ack,
        Pending {
            actor: label,
            method,
            node: None,
            complete: Box::new(move |ack| {
                let answer = ack.and_then(|bytes| {
                    wire::decode::<TaskAck>(&bytes).map_err(|err| ActorError::Wire {
                        message: format!("a bad task acknowledgement: {err}"),
                    })
                });
                match answer {
                    Ok(TaskAck::Taken(node)) => {
                        taken.lock().unwrap_or_else(PoisonError::into_inner).by(
                            &acked,
                            node,
                            acked.subjects.inbox(result),
                        );
                        unanswered::owed_by(&acked, result, node);
                    }
                    Ok(TaskAck::Busy(load)) => {
                        drop(acked.calls.take(result));
                        if let (Some(attempt), Some(node)) = (take(&attempt), node) {
                            pull::refused(node, Some(load), attempt);
                        }
                    }
                    // The node it went to left: it waits for another.
                    Err(ActorError::ActorUnavailable { .. }) if node.is_some() => {
                        drop(acked.calls.take(result));
                        if let (Some(attempt), Some(node)) = (take(&attempt), node) {
                            pull::refused(node, None, attempt);
                        }
                    }
                    Err(err) => {
                        if let Some(pending) = acked.calls.take(result) {
                            (pending.complete)(Err(not_taken(err)));
                        }
                    }
                }
            }),
            rerun: None,
            dies_with_host: false,
            address: None,
        },
    );
    if let Some(node) = node {
        unanswered::owed_by(&cluster, result, node);
    }
    super::task_acks::Acks::watch(&cluster, ack, result);
    let mut headers = HeaderMap::new();
    headers.insert(CODEC, CODEC_ID);
    headers.insert(FINGERPRINT, format!("{fingerprint:016x}").as_str());
    headers.insert(RESULT_TO, cluster.subjects.inbox(result).as_str());
    if node.is_some() {
        headers.insert(ROOM_TO, cluster.subjects.room(fingerprint).as_str());
    }
    cluster.publish(OutboundMessage {
        subject: subject.into(),
        reply: Some(cluster.subjects.inbox(ack).into()),
        payload: request,
        headers: Some(headers),
    });
}

/// The error of a task no node took: "no responders" says no node registered its fn.
fn not_taken(err: ActorError) -> ActorError {
    match err {
        ActorError::ActorUnavailable { actor, method, .. } => ActorError::ActorUnavailable {
            actor,
            method,
            message: NOBODY.to_owned(),
        },
        other => other,
    }
}

/// Takes a share of the tasks of every registered fn, and their callers' cancels (none,
/// client-only).
pub(crate) async fn listen(cluster: &Arc<Cluster>) -> Result<(), String> {
    if cluster.hosts {
        let cancels = cluster
            .client
            .subscribe(cluster.subjects.task_cancel(cluster.node()))
            .await
            .map_err(|err| format!("could not subscribe task cancels: {err}"))?;
        cluster
            .handle
            .spawn(cancel_on_request(Arc::downgrade(cluster), cancels));
    }
    for entry in task_table::all() {
        listen_one(cluster, entry).await?;
    }
    Ok(())
}

async fn listen_one(cluster: &Arc<Cluster>, entry: TaskEntry) -> Result<(), String> {
    if !cluster.hosts {
        return Ok(());
    }
    let subscribe = |sub: Result<async_nats::Subscriber, _>| {
        sub.map_err(|err| format!("could not subscribe tasks: {err}"))
    };
    // A share of the tasks that ask for nothing, the tasks sent here because this node has
    // room for them, and the callers' asks for room.
    super::room::listen(cluster, entry.fingerprint).await?;
    let shared = cluster
        .client
        .queue_subscribe(cluster.subjects.task(entry.fingerprint), "task".to_owned())
        .await;
    let own = cluster.subjects.task_on(entry.fingerprint, cluster.node());
    let own = cluster.client.subscribe(own).await;
    for sub in [subscribe(shared)?, subscribe(own)?] {
        cluster
            .handle
            .spawn(serve(Arc::downgrade(cluster), entry, sub));
    }
    cluster
        .client
        .flush()
        .await
        .map_err(|err| format!("the server did not answer: {err}"))
}

async fn serve(cluster: Weak<Cluster>, entry: TaskEntry, mut sub: async_nats::Subscriber) {
    while let Some(message) = sub.next().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        for message in super::batch::split(message) {
            take(&cluster, entry, message);
        }
    }
}

/// This node leaves: each task running here goes back to its caller as if this node had died
/// (it runs again elsewhere while its `max_retries` allow), and stops here.
pub(crate) fn hand_back(cluster: &Cluster) {
    let me = DeathCause::NodeDied(cluster.node().to_string());
    for (result_to, cancel) in cluster.inflight.take_tasks() {
        cancel.cancel();
        let failure = Failure::Died(wire::Cause::of(&me));
        cluster.reply(result_to.into(), Err(failure));
    }
}

/// Cancels the tasks running here whose callers ask (the payload names the task by the
/// subject it answers on).
async fn cancel_on_request(cluster: Weak<Cluster>, mut cancels: async_nats::Subscriber) {
    while let Some(message) = cancels.next().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        match wire::decode::<String>(&message.payload) {
            Ok(call) => cluster.inflight.cancel(&call),
            Err(err) => tracing::warn!(%err, "a bad task cancel from the wire"),
        }
    }
}

/// Takes one task: starts it if its resources are free here now (else refuses it, saying
/// what this node has), and sends the result where the caller asked, acknowledging it first
/// (naming this node) when it runs longer than [`ACK_WITHIN`].
fn take(cluster: &Arc<Cluster>, entry: TaskEntry, message: Message) {
    let (Some(ack), Some(result_to)) = (
        message.reply.clone(),
        wire::header(&message, RESULT_TO).map(str::to_owned),
    ) else {
        tracing::debug!(subject = %message.subject, "a task with nowhere to answer");
        return;
    };
    // Its caller wants this node's room from now on, as if it had asked.
    if let Some(to) = wire::header(&message, ROOM_TO) {
        cluster.rooms.wanted_by(to.to_owned());
    }
    let answer = |ack_: TaskAck| wire::encode(&ack_).map_err(|err| Failure::Wire(err.to_string()));
    let request = match wire::decode::<TaskRequest>(&message.payload) {
        Ok(request) => request,
        Err(err) => {
            let failure = Failure::Wire(format!("a bad task request: {err}"));
            cluster.reply(result_to.into(), Err(failure));
            return cluster.reply(ack, answer(TaskAck::Taken(cluster.node())));
        }
    };
    // Only what can start now: a task that does not fit goes back to its caller's line.
    // (Bad options: the run itself reports them.)
    let held = match crate::seam::task_demand(&request.options) {
        Ok(demand) if !demand.is_empty() => match crate::seam::try_hold(&demand) {
            Some(held) => Some(held),
            None => return cluster.reply(ack, answer(TaskAck::Busy(Load::here(cluster)))),
        },
        _ => None,
    };
    let running = (entry.run)(request.options, &request.args, held);
    // Cancellable before the ack goes: a caller that cancelled early learns this node from
    // the ack, and its cancel may come back at once.
    let result = match running {
        Ok(Running { result, cancel }) => {
            let served = super::Served::Task(cancel);
            cluster.inflight.insert(result_to.clone(), served);
            Some(result)
        }
        Err(err) => {
            cluster.reply(result_to.clone().into(), Err(Failure::Wire(err.0)));
            None
        }
    };
    let me = answer(TaskAck::Taken(cluster.node()));
    let Some(result) = result else {
        return cluster.reply(ack, me);
    };
    let answering = Arc::clone(cluster);
    cluster.handle.spawn(async move {
        // Done within `ACK_WITHIN`: the result goes alone. Else the ack goes first, so that
        // the caller learns where the task runs.
        let mut result = std::pin::pin!(result);
        let soon = std::pin::pin!(tokio::time::sleep(ACK_WITHIN));
        let result = match futures::future::select(result.as_mut(), soon).await {
            futures::future::Either::Left((result, _)) => result,
            futures::future::Either::Right(((), _)) => {
                answering.reply(ack, me);
                result.await
            }
        };
        answering.inflight.remove(&result_to);
        answering.reply(result_to.into(), result.map_err(|err| Failure::of(&err)));
    });
}
