//! Tasks across processes: `helio::register_task(&f)`, and the node's side: taking a task
//! another process sent (`dispatch.rs` is the caller's side).
//!
//! - **Where.** A task of a registered fn runs in the calling process when it hosts and the
//!   task's demand fits there now; otherwise it goes where `dispatch.rs` sends it.
//! - **Taking one.** A node starts a task it was sent only if its resources are free here
//!   now (it never waits in this node's line), and otherwise refuses it with this node's load
//!   ([`TaskAck::Busy`]): the task then waits again in its caller's line. It answers with the
//!   result alone when the task is done within [`ACK_WITHIN`], else acks with its id first.
//! - **Leaving.** A node that leaves hands the tasks it runs back to their callers, as if it
//!   had died ([`hand_back`]): they run again elsewhere while `max_retries` allows.

use std::{
    any::TypeId,
    sync::{Arc, Weak},
    time::Duration,
};

use async_nats::Message;
use futures::StreamExt;

use super::{
    Cluster, MsgPack, current,
    dispatch::{self, RESULT_TO, ROOM_TO, TaskAck, TaskRequest},
    load::Load,
    task_table::{self, Running, TaskEntry},
    types::fingerprint,
    wire::{self, Failure},
};
use crate::{
    ActorError, DeathCause, TaskOptions,
    seam::{ArgValues, Codec, WireError, encode_call},
    seam::{Held, RemoteFn, Task, TaskCrosses},
};

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
    F: RemoteFn<Args = Args, Output = R> + TaskCrosses<MsgPack>,
    Args: ArgValues,
    R: Send + 'static,
    MsgPack: Codec<Args::Args> + Codec<R>,
{
    let _ = task;
    let signature = format!(
        "{}->{}",
        std::any::type_name::<Args>(),
        std::any::type_name::<R>()
    );
    let entry = TaskEntry {
        fingerprint: fingerprint(F::NAME, &signature),
        encode: encode_call::<MsgPack, Args>,
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

/// Runs `F` here on encoded arguments (for another node), on `held` resources when given;
/// refs among them are read from their owners first.
fn run_encoded<F, Args, R>(
    options: TaskOptions,
    args: &[u8],
    held: Option<Held>,
) -> Result<Running, WireError>
where
    F: RemoteFn<Args = Args, Output = R>,
    Args: ArgValues,
    R: Send + 'static,
    MsgPack: Codec<Args::Args> + Codec<R>,
{
    let args = <MsgPack as Codec<Args::Args>>::decode(args)?;
    let result = match held {
        Some(held) => crate::seam::submit_holding::<F, _>(options, args, held),
        None => crate::seam::submit_here::<F, _>(options, args),
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
        let ticket = dispatch::send(&cluster, entry, sent);
        Box::new(move || ticket.cancel())
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
    let mut intake = super::intake::Intake::new(cluster.clone());
    while let Some(message) = intake.next(&mut sub).await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        take(&cluster, entry, message);
    }
}

/// This node leaves: each task running here goes back to its caller as if this node had died
/// (it runs again elsewhere while its `max_retries` allow), and stops here.
pub(crate) fn hand_back(cluster: &Cluster) {
    let me = DeathCause::NodeDied(cluster.node().to_string());
    for (result_to, cancel) in cluster.inflight.take_tasks() {
        // The reply first: the cancel ends the run, whose own answer (`Cancelled`) must come
        // second, when its caller no longer waits for it.
        let failure = Failure::Died(wire::Cause::of(&me));
        cluster.reply(result_to.into(), Err(failure));
        cancel.cancel();
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
    if let Some(to) = wire::header(&message, ROOM_TO).filter(|to| cluster.subjects.is_room(to)) {
        cluster.rooms.wanted_by(to.to_owned());
    }
    let answer = |said: TaskAck| wire::encode(&said).map_err(|err| Failure::Wire(err.to_string()));
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
    // A task of a placement group takes its resources from its bundle here: it waits in
    // the bundle's line.
    let in_group = request.options.in_group().is_some();
    let held = match crate::seam::task_demand(&request.options) {
        Ok(demand) if !demand.is_empty() && !in_group => match crate::seam::try_hold(&demand) {
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
            let served = super::inflight::Served::Task(cancel);
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
