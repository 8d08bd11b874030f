//! The calls of this process waiting for their replies: the table the inbox reader
//! (`inbox.rs`) resolves.
//!
//! A call gets an id and an entry in [`Calls`] (a [`Pending`]); its reply subject names the
//! id (`subjects.rs`). A streaming call's entry is a [`Sink`] for its frames. An entry keeps
//! what it takes to resolve the call when no reply will come: the node that owes it, the
//! actor's [`Address`], and, for a call that may run again on a restarted actor, a [`Rerun`].

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use async_nats::{HeaderMap, Subject};
use bytes::Bytes;

use super::{NodeId, address::Address, epoch::Sent, subjects, wire};
use crate::{ActorError, DeathCause, seam::ActorLabel};

/// Finishes one call with its reply: `Ok(result bytes)` or the caller's error.
pub(crate) type Complete = Box<dyn FnOnce(Result<Bytes, ActorError>) + Send>;

pub(super) struct Pending {
    pub(super) actor: ActorLabel,
    pub(super) method: &'static str,
    /// The node that owes the reply, when known: if it dies, the call fails, or runs again.
    pub(super) node: Option<NodeId>,
    pub(super) complete: Complete,
    /// How to run the call again on the actor's new host, when it may (`rerun.rs`).
    pub(super) rerun: Option<Rerun>,
    /// The actor cannot outlive its host (not detached, or no restarts left): if the host
    /// dies, so did it.
    pub(super) dies_with_host: bool,
    /// The actor's address: its host is learnt from the reply, and its record is read when
    /// it does not answer (`verdict.rs`).
    pub(super) address: Option<Arc<Address>>,
    /// The epochs it was sent at, when an outage of the connection may leave it in doubt
    /// (`outage.rs`); `None` for a request with a bound of its own.
    pub(super) sent: Option<Sent>,
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

    /// Resolves the call to `ActorDied` with `cause`.
    pub(super) fn died(self, cause: DeathCause) {
        let err = ActorError::ActorDied {
            actor: self.actor,
            method: self.method,
            cause,
        };
        (self.complete)(Err(err));
    }

    /// Resolves the call to `ActorDied` with cause `NodeDied`: its actor died with `node`.
    pub(super) fn died_with(self, node: NodeId) {
        self.died(DeathCause::NodeDied(node.to_string()));
    }
}

/// What it takes to send a call again: when an outage leaves it in doubt (`outage.rs`), and,
/// for a call to a detached named actor, on the actor's new host (`rerun.rs`).
#[derive(Clone)]
pub(crate) struct Rerun {
    /// The actor the call may follow to a new host: a detached named actor's.
    pub(super) home: Option<Home>,
    /// The message, as first sent (its reply subject is the call's, which does not change).
    pub(super) subject: Subject,
    pub(super) headers: HeaderMap,
    pub(super) payload: Bytes,
    /// Re-runs left; -1: no limit.
    pub(super) retries: i64,
    /// Until when the call waits for its actor to be served again, once it has had to.
    pub(super) deadline: Option<Instant>,
}

/// A detached named actor, which restarts on another node when its node dies: its name and
/// identity, to find its record.
#[derive(Clone)]
pub(crate) struct Home {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) actor_id: u64,
    pub(super) actor_node: NodeId,
}

impl Rerun {
    /// Whether the call may be sent again.
    pub(super) fn allowed(&self) -> bool {
        self.retries != 0
    }

    /// Whether the call may follow its actor to a new host.
    pub(super) fn moves(&self) -> bool {
        self.home.is_some()
    }
}

/// The calls of this process waiting for their replies.
#[derive(Default)]
pub(crate) struct Calls {
    next: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
    /// Streaming calls, which take many frames, with the node that sends them and the epochs
    /// they were sent at.
    streams: Mutex<HashMap<u64, Stream>>,
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
            sent: None,
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

    /// Call `id`, if it waits, is owed by `node` from now on, whose epoch is `sent` now.
    pub(super) fn set_node(&self, id: u64, node: NodeId, sent: Sent) {
        if let Some(pending) = self.lock().get_mut(&id) {
            pending.node = Some(node);
            if pending.sent.is_some() {
                pending.sent = Some(sent);
            }
        }
    }

    /// Takes the calls and streams an outage leaves in doubt: those `doubt` says so of, by
    /// the epochs they were sent at and the node that owes them (`outage.rs`).
    pub(super) fn in_doubt(
        &self,
        doubt: impl Fn(Sent, Option<NodeId>) -> bool,
    ) -> (Vec<(u64, Pending)>, Vec<u64>) {
        let calls = {
            let mut pending = self.lock();
            let ids: Vec<u64> = pending
                .iter()
                .filter(|(_, p)| p.sent.is_some_and(|sent| doubt(sent, p.node)))
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter()
                .filter_map(|id| pending.remove(&id).map(|p| (id, p)))
                .collect()
        };
        let streams = self
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, stream)| doubt(stream.sent, stream.node))
            .map(|(id, _)| *id)
            .collect();
        (calls, streams)
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
                .filter_map(|stream| stream.node),
        );
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// The calls `node` owes replies, by id.
    pub(super) fn calls_of_node(&self, node: NodeId) -> Vec<u64> {
        self.lock()
            .iter()
            .filter(|(_, p)| p.node == Some(node))
            .map(|(id, _)| *id)
            .collect()
    }

    /// The streams whose frames `node` sends, by id.
    pub(super) fn streams_of_node(&self, node: NodeId) -> Vec<u64> {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, stream)| stream.node == Some(node))
            .map(|(id, _)| *id)
            .collect()
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
    pub(super) fn ungroup(&self, id: u64) -> Option<Vec<u64>> {
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
    pub(super) fn stream_unavailable(&self, id: u64, message: &str) {
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

/// Handles one frame of a stream; `true` once the stream is over.
pub(crate) type Sink = Box<dyn FnMut(&async_nats::Message) -> bool + Send>;

/// A streaming call waiting for its frames.
struct Stream {
    /// The node that sends them, when known.
    node: Option<NodeId>,
    /// The epochs the call was sent at (`outage.rs`).
    sent: Sent,
    sink: Sink,
}

impl Calls {
    /// Routes a frame to the stream `id`; `false` when there is no such stream.
    pub(super) fn stream_frame(&self, id: u64, message: &async_nats::Message) -> bool {
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(Stream { sink, .. }) = streams.get_mut(&id) else {
            return false;
        };
        if sink(message) {
            let sink = streams.remove(&id);
            drop(streams);
            drop(sink);
        }
        true
    }

    pub(super) fn insert_stream(&self, id: u64, node: Option<NodeId>, sent: Sent, sink: Sink) {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Stream { node, sent, sink });
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
        if let Some(Stream { mut sink, .. }) = sink {
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
        subject: subjects::LOCAL.into(),
        reply: None,
        length: payload.len(),
        payload: Bytes::from(payload),
        headers: Some(headers),
        status: None,
        description: None,
    }
}
