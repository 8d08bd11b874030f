//! Tasks across processes: `helio::register_task(&f)` and where a registered task runs.
//!
//! - **Where.** A task of a registered fn runs here when this process hosts and its demand
//!   fits here now; otherwise it goes to `helio.<cluster>.task.<fingerprint>`, where every
//!   hosting node that registered the fn listens in one queue group, so exactly one takes it
//!   (and runs it under its own resources, waiting in its own line when it is busy).
//! - **Who took it.** The request's reply subject is an ack, and header [`RESULT_TO`] names a
//!   second inbox entry of the caller for the result. A task that returns within
//!   [`ACK_WITHIN`] sends its result alone (one message back, as a call's reply; the caller
//!   then drops the ack's entry). A longer one acks with the taking node's id first, so the
//!   result's entry waits on that node and the node's death resolves it
//!   (`unanswered::node_died`); it then runs again on another node while `max_retries` allows, and
//!   otherwise resolves to `ActorDied { cause: NodeDied }`.
//! - **Never acked.** A node that dies as it takes a task, before its ack, is not one the
//!   caller knows of: a task with neither ack nor result for a while resolves to
//!   `ActorUnavailable` ([`Acks`](super::task_acks::Acks)), so its caller never waits forever.
//! - **Nobody.** With no node registered, the server answers "no responders" to the ack, and
//!   the task resolves to `ActorUnavailable` (a node may register it later: transient).

use std::{
    any::TypeId,
    sync::{Arc, Mutex, PoisonError, Weak},
    time::Duration,
};

use async_nats::{HeaderMap, Message, message::OutboundMessage};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{
    Cluster, MsgPack, NodeId,
    calls::{Complete, Pending},
    current, load, schedule,
    task_table::{self, Running, TaskEntry},
    types::fingerprint,
    unanswered,
    wire::{self, CODEC, CODEC_ID, FINGERPRINT, Failure},
};
use crate::{
    ActorError, DeathCause, TaskOptions,
    seam::ActorLabel,
    seam::{Codec, WireError},
    seam::{RemoteFn, Task},
};

/// The header naming the caller's inbox entry for a task's result.
const RESULT_TO: &str = "Helio-Result-To";

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

/// Runs `F` here on encoded arguments (for another node).
fn run_encoded<F, Args, R>(options: TaskOptions, args: &[u8]) -> Result<Running, WireError>
where
    F: RemoteFn<Args = Args, Output = R>,
    Args: Send + 'static,
    R: Send + 'static,
    MsgPack: Codec<Args> + Codec<R>,
{
    let args = <MsgPack as Codec<Args>>::decode(args)?;
    let result = crate::seam::submit_here::<F>(options, args);
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
    attempt(Attempt {
        cluster: Arc::clone(cluster),
        fingerprint: entry.fingerprint,
        request,
        label,
        method,
        retries: options.node_retries(),
        demand: placed(demand),
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
struct Attempt {
    cluster: Arc<Cluster>,
    fingerprint: u64,
    request: Bytes,
    label: ActorLabel,
    method: &'static str,
    /// Runs left after a node death: `None` forever.
    retries: Option<u64>,
    /// What a node must have for it, when more than CPUs: then the task goes to a node chosen
    /// by its load (`schedule.rs`), not to the queue group.
    demand: Option<crate::seam::Resources>,
    /// Where the task runs now (the ticket's view).
    taken: Arc<Mutex<Taken>>,
    done: Complete,
}

/// `demand` when a task with it must be placed by resources: it asks for more than CPUs
/// (any node that registered the fn has CPUs; GPUs and custom resources only some).
fn placed(demand: crate::seam::Resources) -> Option<crate::seam::Resources> {
    let beyond_cpus = demand.iter().any(|(name, _)| name != crate::seam::CPU);
    beyond_cpus.then_some(demand)
}

/// Sends the task to whichever node takes it, and waits on that node.
fn attempt(attempt: Attempt) {
    let Some(demand) = attempt.demand.clone() else {
        let subject = attempt.cluster.subjects.task(attempt.fingerprint);
        return send_to(attempt, subject);
    };
    // Placed by resources: ask the nodes first (off the caller's path).
    let cluster = Arc::clone(&attempt.cluster);
    cluster.handle.clone().spawn(async move {
        let fingerprint = attempt.fingerprint;
        let wants = move |load: &load::Load| load.hosts && load.tasks.contains(&fingerprint);
        match schedule::choose(&cluster, wants, &demand).await {
            Ok(node) => {
                let subject = cluster.subjects.task_on(fingerprint, node);
                send_to(attempt, subject);
            }
            Err(message) => (attempt.done)(Err(ActorError::Unschedulable {
                actor: attempt.label,
                method: attempt.method,
                shortfall: message,
            })),
        }
    });
}

/// Sends the task on `subject`, and waits on the node that takes it.
fn send_to(attempt: Attempt, subject: String) {
    let cluster = Arc::clone(&attempt.cluster);
    let (label, method) = (attempt.label.clone(), attempt.method);
    let request = attempt.request.clone();
    let fingerprint = attempt.fingerprint;
    let taken = Arc::clone(&attempt.taken);
    // The result: the node that took the task owes it; if that node dies first, the task
    // runs again elsewhere, or fails. A result that comes before the ack ends the wait for it.
    let ack = cluster.calls.reserve();
    let result = cluster.calls.reserve();
    cluster.calls.insert_at(
        result,
        Pending {
            actor: label.clone(),
            method,
            node: None,
            complete: Box::new(move |outcome| {
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
    // The ack: which node took it.
    let acked = Arc::clone(&cluster);
    cluster.calls.insert_at(
        ack,
        Pending {
            actor: label,
            method,
            node: None,
            complete: Box::new(move |ack| {
                let node = ack.and_then(|bytes| {
                    wire::decode::<NodeId>(&bytes).map_err(|err| ActorError::Wire {
                        message: format!("a bad task acknowledgement: {err}"),
                    })
                });
                match node {
                    Ok(node) => {
                        taken.lock().unwrap_or_else(PoisonError::into_inner).by(
                            &acked,
                            node,
                            acked.subjects.inbox(result),
                        );
                        unanswered::owed_by(&acked, result, node);
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
    super::task_acks::Acks::watch(&cluster, ack, result);
    let mut headers = HeaderMap::new();
    headers.insert(CODEC, CODEC_ID);
    headers.insert(FINGERPRINT, format!("{fingerprint:016x}").as_str());
    headers.insert(RESULT_TO, cluster.subjects.inbox(result).as_str());
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
            message: "no node of the cluster runs it: register it with \
                      `helio::register_task` in a process that hosts (`Config::host(true)`)"
                .to_owned(),
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
    // A share of the tasks any node may take, and the tasks placed here by their resources.
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

/// Takes one task: runs it and sends the result where the caller asked, acknowledging it
/// first (naming this node) when it runs longer than [`ACK_WITHIN`].
fn take(cluster: &Arc<Cluster>, entry: TaskEntry, message: Message) {
    let (Some(ack), Some(result_to)) = (
        message.reply.clone(),
        wire::header(&message, RESULT_TO).map(str::to_owned),
    ) else {
        tracing::debug!(subject = %message.subject, "a task with nowhere to answer");
        return;
    };
    let running = wire::decode::<TaskRequest>(&message.payload)
        .map_err(|err| WireError(format!("a bad task request: {err}")))
        .and_then(|request| (entry.run)(request.options, &request.args));
    // Cancellable before the ack goes: a caller that cancelled early learns this node from
    // the ack, and its cancel may come back at once.
    let result = match running {
        Ok(Running { result, cancel }) => {
            let served = super::Served::Call(cancel);
            cluster.inflight.insert(result_to.clone(), served);
            Some(result)
        }
        Err(err) => {
            cluster.reply(result_to.clone().into(), Err(Failure::Wire(err.0)));
            None
        }
    };
    let me = wire::encode(&cluster.node()).map_err(|err| Failure::Wire(err.to_string()));
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
