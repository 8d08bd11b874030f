//! The process's reply inbox, and the calls waiting on it.
//!
//! A call gets an id and an entry in [`Calls`]; its reply subject is
//! `helio.<cluster>.inbox.<node>.<id>`. The inbox reader resolves the entry when the reply
//! comes, or routes a stream's frame to its sink. When no process serves the actor's subject,
//! the server answers "no responders" on that same subject, and the call resolves as the
//! actor's record says (`verdict.rs`): `ActorDied`, or `ActorUnavailable`.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicU64, Ordering},
    },
};

use async_nats::{HeaderMap, StatusCode, Subscriber};
use bytes::Bytes;
use futures::StreamExt;

use super::{Cluster, NodeId, wire};
use crate::{ActorError, seam::ActorLabel};

/// Finishes one call with its reply: `Ok(result bytes)` or the caller's error.
pub(crate) type Complete = Box<dyn FnOnce(Result<Bytes, ActorError>) + Send>;

pub(super) struct Pending {
    pub(super) actor: ActorLabel,
    pub(super) method: &'static str,
    /// The node that owes the reply, when known: if it dies, the call fails, or runs again.
    pub(super) node: Option<NodeId>,
    pub(super) complete: Complete,
    /// How to run the call again on the actor's new host, when it may (`rerun.rs`).
    pub(super) rerun: Option<super::rerun::Rerun>,
    /// The actor cannot outlive its host (not detached, or no restarts left): if the host
    /// dies, so did it.
    pub(super) dies_with_host: bool,
    /// The actor's address: its host is learnt from the reply, and its record is read when
    /// it does not answer (`verdict.rs`).
    pub(super) address: Option<Arc<super::client::Address>>,
}

impl Pending {
    /// Resolves the call to `ActorUnavailable` with `message`.
    pub(super) fn unavailable(self, message: &str) {
        let err = ActorError::ActorUnavailable {
            actor: self.actor,
            method: self.method,
            message: message.to_owned(),
        };
        (self.complete)(Err(err));
    }
}

/// The calls of this process waiting for their replies.
#[derive(Default)]
pub(crate) struct Calls {
    next: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
    /// Streaming calls, which take many frames, with the node that sends them.
    streams: Mutex<HashMap<u64, (Option<NodeId>, Sink)>>,
    /// Calls sent in one batch, by the first one's id.
    groups: Mutex<HashMap<u64, Vec<u64>>>,
    /// Whether `groups` may be non-empty (skips its lock on most replies).
    grouped: std::sync::atomic::AtomicBool,
}

impl Calls {
    /// Waits for the reply to a request of this process's own (a spawn, say).
    pub(crate) fn insert_raw(
        &self,
        actor: ActorLabel,
        method: &'static str,
        complete: Complete,
    ) -> u64 {
        self.insert(Pending {
            actor,
            method,
            node: None,
            complete,
            rerun: None,
            dies_with_host: false,
            address: None,
        })
    }

    pub(super) fn insert(&self, pending: Pending) -> u64 {
        let id = self.reserve();
        self.insert_at(id, pending);
        id
    }

    /// A fresh call id.
    pub(super) fn reserve(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    pub(super) fn insert_at(&self, id: u64, pending: Pending) {
        self.lock().insert(id, pending);
    }

    /// Whether call `id` still waits for its reply.
    pub(super) fn is_waiting(&self, id: u64) -> bool {
        self.lock().contains_key(&id)
    }

    pub(super) fn take(&self, id: u64) -> Option<Pending> {
        self.lock().remove(&id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Call `id` is owed by `node` from now on (a task it took): its death resolves the call,
    /// also when it is known dead already.
    pub(super) fn owed_by(&self, cluster: &Cluster, id: u64, node: NodeId) {
        if let Some(pending) = self.lock().get_mut(&id) {
            pending.node = Some(node);
        }
        if cluster.liveness.is_dead(node)
            && let Some(pending) = self.take(id)
        {
            super::rerun::died_with(pending, node);
        }
    }

    /// A raw request's entry, taken back (it timed out).
    pub(crate) fn take_raw(&self, id: u64) -> Option<Complete> {
        self.take(id).map(|pending| pending.complete)
    }

    /// The nodes that owe this process replies or stream frames.
    pub(crate) fn nodes_waited_on(&self) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = self.lock().values().filter_map(|p| p.node).collect();
        nodes.extend(
            self.streams
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .filter_map(|(node, _)| *node),
        );
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// Resolves every call and stream `node` owes: it is dead. A call to an actor that died
    /// with it resolves to `ActorDied`; the calls that may run again elsewhere are handed back,
    /// by id; the others resolve as the actor's record says (`verdict.rs`), streams to
    /// `ActorUnavailable` with `message`.
    pub(crate) fn fail_node(
        &self,
        cluster: &Arc<Cluster>,
        node: NodeId,
        message: &str,
    ) -> Vec<(u64, Pending)> {
        let owed: Vec<u64> = self
            .lock()
            .iter()
            .filter(|(_, p)| p.node == Some(node))
            .map(|(id, _)| *id)
            .collect();
        let mut again = Vec::new();
        for id in owed {
            if let Some(pending) = self.take(id) {
                if pending.dies_with_host {
                    super::rerun::died_with(pending, node);
                    continue;
                }
                if pending
                    .rerun
                    .as_ref()
                    .is_some_and(super::rerun::Rerun::allowed)
                {
                    again.push((id, pending));
                    continue;
                }
                super::verdict::settle(cluster, pending, message.to_owned());
            }
        }
        let streams: Vec<u64> = self
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, (n, _))| *n == Some(node))
            .map(|(id, _)| *id)
            .collect();
        for id in streams {
            self.stream_unavailable(id, message);
        }
        again
    }

    /// Records that the calls `ids` went out in one batch: "no responders" for the batch comes
    /// back to the first one only.
    pub(crate) fn group(&self, ids: Vec<u64>) {
        if let Some(&first) = ids.first()
            && ids.len() > 1
        {
            self.groups
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(first, ids);
            self.grouped.store(true, Ordering::Release);
        }
    }

    /// The batch call `id` went first in, if any (forgotten: a reply for it came).
    fn ungroup(&self, id: u64) -> Option<Vec<u64>> {
        if !self.grouped.load(Ordering::Acquire) {
            return None;
        }
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        let group = groups.remove(&id);
        if groups.is_empty() {
            self.grouped.store(false, Ordering::Release);
        }
        group
    }

    /// Resolves call `id` (a call or a stream) to `ActorUnavailable`: its batch had no
    /// responders. A call that may run on a restarted actor waits for it instead.
    fn unavailable(&self, cluster: &Arc<Cluster>, id: u64) {
        match self.take(id) {
            Some(pending) if pending.rerun.is_some() => {
                super::rerun::not_served(cluster, id, pending);
            }
            Some(pending) => super::verdict::settle(cluster, pending, NOT_SERVED.to_owned()),
            None => self.stream_unavailable(id, NOT_SERVED),
        }
    }

    /// Resolves the call or stream `id` to `ActorUnavailable` with `message`, if it waits.
    pub(crate) fn fail_one(&self, id: u64, message: &str) {
        match self.take(id) {
            Some(pending) => pending.unavailable(message),
            None => self.stream_unavailable(id, message),
        }
    }

    /// Resolves every waiting call and stream to `ActorUnavailable` with `message`: this
    /// process left the cluster, or is cut off from it.
    pub(crate) fn fail_all(&self, message: &str) {
        let streams: Vec<u64> = self
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        for id in streams {
            self.stream_unavailable(id, message);
        }
        let drained: Vec<Pending> = self.lock().drain().map(|(_, p)| p).collect();
        for pending in drained {
            pending.unavailable(message);
        }
    }

    /// Ends stream `id`, if it waits, with `ActorUnavailable` and `message`.
    fn stream_unavailable(&self, id: u64, message: &str) {
        let err = ActorError::ActorUnavailable {
            actor: ActorLabel::new("?", None),
            method: "?",
            message: message.to_owned(),
        };
        self.fail_stream(id, err);
    }
}

/// Why a call no process serves fails.
pub(super) const NOT_SERVED: &str = "no process serves it: its host is gone, or it stopped";

/// Subscribes this process's reply inbox.
pub(crate) async fn listen(cluster: &Cluster) -> Result<Subscriber, String> {
    cluster
        .client
        .subscribe(cluster.subjects.inbox_all())
        .await
        .map_err(|err| format!("could not subscribe the reply inbox: {err}"))
}

/// Resolves each call as its reply arrives. Never blocks: decoding and resolving are quick.
pub(crate) async fn read_inbox(cluster: Weak<Cluster>, mut inbox: Subscriber) {
    while let Some(message) = inbox.next().await {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        for message in super::batch::split(message) {
            deliver(&cluster, message);
        }
    }
}

/// Resolves the call one reply (or stream frame) is for.
fn deliver(cluster: &Arc<Cluster>, message: async_nats::Message) {
    {
        let Some(id) = super::subjects::call_id(&message.subject) else {
            tracing::debug!(subject = %message.subject, "a reply with no call id");
            return;
        };
        let unavailable = message.status == Some(StatusCode::NO_RESPONDERS);
        // The first call of a batch hears for the whole batch.
        if let Some(batch) = cluster.calls.ungroup(id)
            && unavailable
        {
            for other in batch.into_iter().filter(|other| *other != id) {
                cluster.calls.unavailable(cluster, other);
            }
        }
        let Some(pending) = cluster.calls.take(id) else {
            if !cluster.calls.stream_frame(id, &message) {
                tracing::debug!(subject = %message.subject, "a reply for no waiting call");
            }
            return;
        };
        if unavailable && pending.rerun.is_some() {
            return super::rerun::not_served(cluster, id, pending);
        }
        if unavailable {
            return super::verdict::settle(cluster, pending, NOT_SERVED.to_owned());
        }
        // The actor answered from its node of creation, or from the node named in the reply:
        // later calls watch that one.
        if let Some(address) = &pending.address {
            let node = wire::header(&message, wire::NODE).and_then(|node| node.parse().ok());
            let answered = node.unwrap_or(address.record.node);
            if address.host() != answered {
                address.answered_by(answered);
            }
        }
        let Pending {
            actor,
            method,
            complete,
            ..
        } = pending;
        let status = wire::header(&message, wire::STATUS);
        complete(
            wire::read_reply(status, &message.payload, &actor, method).map(|()| message.payload),
        );
    }
}

/// Handles one frame of a stream; `true` once the stream is over.
pub(crate) type Sink = Box<dyn FnMut(&async_nats::Message) -> bool + Send>;

impl Calls {
    /// Routes a frame to the stream `id`; `false` when there is no such stream.
    fn stream_frame(&self, id: u64, message: &async_nats::Message) -> bool {
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((_, sink)) = streams.get_mut(&id) else {
            return false;
        };
        if sink(message) {
            let sink = streams.remove(&id);
            drop(streams);
            drop(sink);
        }
        true
    }

    pub(super) fn insert_stream(&self, id: u64, node: Option<NodeId>, sink: Sink) {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, (node, sink));
    }

    pub(super) fn remove_stream(&self, id: u64) {
        let removed = self
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        drop(removed);
    }
}

impl Calls {
    /// Ends the stream `id` with `err`.
    pub(super) fn fail_stream(&self, id: u64, err: ActorError) {
        let sink = self
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some((_, mut sink)) = sink {
            sink(&failed_frame(&err));
        }
    }
}

/// A frame that ends a stream with `err`, as its host would send it.
fn failed_frame(err: &ActorError) -> async_nats::Message {
    let mut headers = HeaderMap::new();
    headers.insert(wire::STATUS, "err");
    let payload = wire::encode(&wire::Failure::of(err)).unwrap_or_default();
    async_nats::Message {
        subject: super::subjects::LOCAL.into(),
        reply: None,
        length: payload.len(),
        payload: Bytes::from(payload),
        headers: Some(headers),
        status: None,
        description: None,
    }
}
