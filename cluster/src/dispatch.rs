//! A task's way from its caller to a node (the caller's side of cluster tasks).
//!
//! - **Where it goes.** A task that asks for nothing goes to the queue group of the nodes
//!   that registered its fn (`subjects::task`). Any other waits in this process's [`Line`]
//!   (`line.rs`, whose decisions this module carries out) until a node reports room for it:
//!   this module asks for room while tasks wait (`want.<fn>`), hears the nodes' reports, sends
//!   each task the line places to its node, takes back what a busy node refused, and gives up
//!   on what may wait no longer.
//! - **What comes back.** The request's reply subject is an ack, and header [`RESULT_TO`]
//!   names a second inbox entry for the result. The node acks with [`TaskAck::Taken`] (or
//!   sends the result alone when it is done within a millisecond), or refuses with
//!   [`TaskAck::Busy`]. A task sent to a node waits on it from the start; if that node dies
//!   first, the task runs again on another while `max_retries` allows, and otherwise
//!   resolves to `ActorDied { cause: NodeDied }`.
//! - **Never acked.** A node that dies as it takes a task from the queue group, before its
//!   ack, is not one the caller knows of: a task with neither ack nor result for a while
//!   resolves to `ActorUnavailable` ([`Acks`](super::task_acks::Acks)).
//! - **Nobody.** With no node registered, the server answers "no responders" (to the ack, or
//!   to the ask for room), and the task resolves to `ActorUnavailable` at once.

use std::{
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use async_nats::{HeaderMap, StatusCode, message::OutboundMessage};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{
    Cluster, NodeId,
    calls::{Complete, NOT_SERVED, Pending},
    line::{Entry, GiveUp, Line, Room, WANT_EVERY},
    load::Load,
    outage::IN_DOUBT,
    room::Offer,
    subjects,
    task_table::TaskEntry,
    unanswered,
    wire::{self, CODEC, CODEC_ID, FINGERPRINT},
};
use crate::{
    ActorError, DeathCause, TaskOptions,
    seam::{ActorLabel, Resources},
};

/// Why a task fails when no node of the cluster runs its fn.
const NOBODY: &str = "no node of the cluster runs it: register it with \
                                 `helio::register_task` in a process that hosts \
                                 (`Config::host(true)`)";

/// The header naming the caller's inbox entry for a task's result.
pub(crate) const RESULT_TO: &str = "Helio-Result-To";

/// The header naming where the caller of a task sent to a node with room wants that node's
/// next reports of room (`room.rs`).
pub(crate) const ROOM_TO: &str = "Helio-Room-To";

/// This process's line of tasks waiting to be placed, and whether its tick runs.
#[derive(Default)]
pub(crate) struct Pull {
    line: Mutex<Line<Attempt>>,
    ticking: AtomicBool,
}

impl Pull {
    fn lock(&self) -> std::sync::MutexGuard<'_, Line<Attempt>> {
        self.line.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many tasks wait in this process's line.
    pub(crate) fn waiting(&self) -> usize {
        self.lock().len()
    }
}

fn room_of(load: &Load) -> Room {
    Room {
        ledger: load.ledger(),
        tasks: if load.hosts {
            load.tasks.clone()
        } else {
            Vec::new()
        },
    }
}

/// `attempt` as the line holds it.
fn entry(attempt: Attempt) -> Entry<Attempt> {
    Entry {
        fingerprint: attempt.fingerprint,
        demand: attempt.demand.clone(),
        since: attempt.since,
        deadline: attempt.deadline,
        item: attempt,
    }
}

/// Places a task that asks for resources: on a node with room for it now, or in line.
fn submit(attempt: Attempt) {
    let cluster = Arc::clone(&attempt.cluster);
    let now = Instant::now();
    let (sent, wants) = {
        let mut line = cluster.pull.lock();
        let sent = line.submit(entry(attempt), now);
        (sent, line.wants(now))
    };
    carry_out(&cluster, sent.into_iter().collect(), &wants);
}

/// A node refused `attempt` (it is busy after all), reporting its room; `None`: it does not
/// serve the fn (it left).
fn refused(node: NodeId, load: Option<Load>, attempt: Attempt) {
    let cluster = Arc::clone(&attempt.cluster);
    let now = Instant::now();
    let room = load.as_ref().map_or_else(
        || Room {
            ledger: crate::seam::Ledger::new(crate::seam::Resources::new()),
            tasks: Vec::new(),
        },
        room_of,
    );
    let (sent, wants) = {
        let mut line = cluster.pull.lock();
        let sent = line.refused(node, room, entry(attempt), now);
        if load.is_none() {
            line.forget(node);
        }
        (sent, line.wants(now))
    };
    carry_out(&cluster, sent, &wants);
}

/// `node` died or left: no more tasks go to it on its last report.
pub(crate) fn forget(cluster: &Cluster, node: NodeId) {
    cluster.pull.lock().forget(node);
}

/// This process leaves: every task still in line fails.
pub(crate) fn leave(cluster: &Cluster) {
    let left = cluster.pull.lock().take_where(|_| true);
    for attempt in left {
        attempt.give_up(GiveUp::Unavailable(
            "this process left the cluster before a node took the task".to_owned(),
        ));
    }
}

/// Sends what the line decided, asks for room for `wants`, and keeps the tick running while
/// tasks wait.
fn carry_out(cluster: &Arc<Cluster>, sent: Vec<(NodeId, Attempt)>, wants: &[u64]) {
    for (node, attempt) in sent {
        send_to_node(attempt, node);
    }
    for fingerprint in wants {
        ask(cluster, *fingerprint);
    }
    if cluster.pull.waiting() > 0 && !cluster.pull.ticking.swap(true, Ordering::AcqRel) {
        cluster.handle.spawn(tick(Arc::downgrade(cluster)));
    }
}

/// Asks every node that runs the fn `fingerprint` for its room.
fn ask(cluster: &Cluster, fingerprint: u64) {
    let mut headers = HeaderMap::new();
    headers.insert(CODEC, CODEC_ID);
    cluster.publish(OutboundMessage {
        subject: cluster.subjects.want(fingerprint).into(),
        reply: Some(cluster.subjects.room(fingerprint).into()),
        payload: Bytes::new(),
        headers: Some(headers),
    });
}

/// Listens for the nodes' reports of room to this process, and to every process.
pub(crate) async fn listen(cluster: &Arc<Cluster>) -> Result<(), String> {
    for subject in [cluster.subjects.rooms(), cluster.subjects.offers()] {
        let reports = cluster
            .client
            .subscribe(subject)
            .await
            .map_err(|err| format!("could not subscribe reports of room: {err}"))?;
        cluster.handle.spawn(hear(Arc::downgrade(cluster), reports));
    }
    Ok(())
}

async fn hear(cluster: Weak<Cluster>, mut reports: async_nats::Subscriber) {
    while let Some(message) = reports.next().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        let now = Instant::now();
        if message.status == Some(StatusCode::NO_RESPONDERS) {
            let Some(fingerprint) = subjects::room_fingerprint(&message.subject) else {
                continue;
            };
            let nobody = cluster.pull.lock().nobody(fingerprint, now);
            for attempt in nobody {
                attempt.give_up(GiveUp::Unavailable(NOBODY.to_owned()));
            }
            continue;
        }
        for message in super::batch::split(message) {
            let offer = match wire::decode::<Offer>(&message.payload) {
                Ok(offer) => offer,
                Err(err) => {
                    tracing::warn!(%err, "a bad report of room from the wire");
                    continue;
                }
            };
            let (sent, wants) = {
                let mut line = cluster.pull.lock();
                let sent = line.room(offer.node, room_of(&offer.load), now);
                (sent, line.wants(now))
            };
            carry_out(&cluster, sent, &wants);
        }
    }
}

/// While tasks wait: drops the cancelled ones, gives up on those that may wait no longer, and
/// asks again for room.
async fn tick(cluster: Weak<Cluster>) {
    loop {
        tokio::time::sleep(WANT_EVERY / 2).await;
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        let now = Instant::now();
        let (given_up, cancelled, wants, empty) = {
            let mut line = cluster.pull.lock();
            let cancelled = line.take_where(Attempt::is_cancelled);
            let given_up = line.expire(now);
            let wants = line.wants(now);
            (given_up, cancelled, wants, line.len() == 0)
        };
        drop(cancelled);
        for (attempt, why) in given_up {
            attempt.give_up(why);
        }
        for fingerprint in wants {
            ask(&cluster, fingerprint);
        }
        if empty {
            cluster.pull.ticking.store(false, Ordering::Release);
            // A task that came as the flag fell found it set: tick for it.
            if cluster.pull.waiting() == 0 || cluster.pull.ticking.swap(true, Ordering::AcqRel) {
                return;
            }
        }
    }
}

/// Sends a task of `entry`'s fn to the cluster; its result or error goes to `sent.answer`.
/// The ticket cancels it where it runs.
pub(crate) fn send(cluster: &Arc<Cluster>, entry: TaskEntry, sent: crate::seam::Sent) -> Ticket {
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
    let bundle_node = options
        .in_group()
        .and_then(|in_group| crate::seam::bundle_node(&in_group));
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
        bundle_node,
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
pub(crate) struct TaskRequest {
    pub(crate) options: TaskOptions,
    pub(crate) args: Vec<u8>,
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
    /// What it holds while it runs: when not empty, it goes only to a node that has it free.
    demand: Resources,
    /// When it was (last) submitted.
    since: Instant,
    /// When it stops waiting for its resources (`resource_timeout`).
    deadline: Option<Instant>,
    /// Where the task runs now (the ticket's view).
    taken: Arc<Mutex<Taken>>,
    /// The node of its placement group bundle: it goes there, and nowhere else.
    bundle_node: Option<NodeId>,
    done: Complete,
}

impl Attempt {
    /// Resolves it to the error `why` says: no node takes it.
    fn give_up(self, why: GiveUp) {
        let (actor, method) = (self.label, self.method);
        (self.done)(Err(match why {
            GiveUp::Unavailable(message) => ActorError::ActorUnavailable {
                actor,
                method,
                message,
            },
            GiveUp::Unschedulable(shortfall) => ActorError::Unschedulable {
                actor,
                method,
                shortfall,
            },
            GiveUp::TimedOut(waited) => ActorError::ActorUnavailable {
                actor,
                method,
                message: format!(
                    "its resources were not free within {waited:?} (`resource_timeout`)"
                ),
            },
        }));
    }

    /// Whether its caller cancelled it (its ref says so already).
    fn is_cancelled(&self) -> bool {
        self.taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .cancelled
    }
}

/// What a node answers a task it was sent, on the task's ack subject.
#[derive(Serialize, Deserialize)]
pub(crate) enum TaskAck {
    /// It took the task, and runs it.
    Taken(NodeId),
    /// It has no room for it now: its load says what it has.
    Busy(Load),
}

/// Sends the task where it may go: one that asks for nothing to whichever node takes it,
/// any other through this process's line, to a node with room for it.
fn attempt(attempt: Attempt) {
    if let Some(node) = attempt.bundle_node {
        // Its bundle's node takes it whatever its load: it waits there, in the bundle's line.
        return send_to_node(attempt, node);
    }
    if attempt.demand.is_empty() {
        let subject = attempt.cluster.subjects.task(attempt.fingerprint);
        return send_to(attempt, subject, None);
    }
    submit(attempt);
}

/// Sends the task to `node`, which has room for it as far as this process knows.
fn send_to_node(attempt: Attempt, node: NodeId) {
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
                        again(attempt);
                    }
                    // An outage may have lost the task or its result (`outage.rs`).
                    Err(ActorError::ActorUnavailable { message, .. })
                        if message == IN_DOUBT && attempt.retries != Some(0) =>
                    {
                        tracing::info!(task = method, "the task is in doubt after an outage; running it again");
                        again(attempt);
                    }
                    other => (attempt.done)(other),
                }
            }),
            rerun: None,
            dies_with_host: true,
            address: None,
            sent: Some(cluster.epochs.stamp(node)),
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
                            refused(node, Some(load), attempt);
                        }
                    }
                    // The node it went to left: it waits for another.
                    Err(ActorError::ActorUnavailable { .. }) if node.is_some() => {
                        drop(acked.calls.take(result));
                        if let (Some(attempt), Some(node)) = (take(&attempt), node) {
                            refused(node, None, attempt);
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
            sent: Some(cluster.epochs.stamp(node)),
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

/// Runs a task again, on whichever node has room, taking one of its retries.
fn again(attempt: Attempt) {
    self::attempt(Attempt {
        retries: attempt.retries.map(|left| left - 1),
        since: Instant::now(),
        ..attempt
    });
}

/// The error of a task no node took: "no responders" says no node registered its fn.
fn not_taken(err: ActorError) -> ActorError {
    match err {
        ActorError::ActorUnavailable {
            actor,
            method,
            message,
        } if message == NOT_SERVED => ActorError::ActorUnavailable {
            actor,
            method,
            message: NOBODY.to_owned(),
        },
        other => other,
    }
}
