//! The caller's side: remote handles (`Link`), and the process's reply inbox.
//!
//! A call gets an id, a pending entry in [`Calls`], and one message to its actor's subject
//! whose reply subject is `helio.<cluster>.inbox.<node>.<id>`. The inbox reader resolves the
//! entry when the reply comes. When no process serves the actor's subject, the server
//! answers "no responders" on that same subject, and the call resolves to
//! `ActorUnavailable`.

use std::{
    any::Any,
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicU64, Ordering},
    },
    task::{Wake, Waker},
    time::Duration,
};

use async_nats::{HeaderMap, StatusCode, Subscriber, message::OutboundMessage};
use bytes::Bytes;
use futures::StreamExt;

use super::{
    Cluster, NodeId, block_on, current,
    registry::ActorRecord,
    types::{self, TypeEntry},
    wire::{
        self, CODEC, CODEC_ID, FINGERPRINT, METHOD, VERB_CANCEL, VERB_CREDIT, VERB_KILL,
        VERB_READY, VERB_STATE, WINDOW,
    },
};
use crate::{
    Actor, ActorClass, ActorError, ActorState, CallOptions, LookupError, ObjectRefStream,
    arg::PendingArgs,
    label::{ActorId, ActorLabel},
    object_ref::{Origin, Resolver, detached_pair},
    remote::Stub,
    stream::{Feed, Item, Took},
};

/// Finishes one call with its reply: `Ok(result bytes)` or the caller's error.
pub(crate) type Complete = Box<dyn FnOnce(Result<Bytes, ActorError>) + Send>;

struct Pending {
    actor: ActorLabel,
    method: &'static str,
    /// The node that owes the reply, when known: if it dies, the call fails.
    node: Option<NodeId>,
    complete: Complete,
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
        })
    }

    fn insert(&self, pending: Pending) -> u64 {
        let id = self.reserve();
        self.insert_at(id, pending);
        id
    }

    /// A fresh call id.
    fn reserve(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    fn insert_at(&self, id: u64, pending: Pending) {
        self.lock().insert(id, pending);
    }

    fn take(&self, id: u64) -> Option<Pending> {
        self.lock().remove(&id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// Resolves every call and stream `node` owes to `ActorUnavailable`: it is dead.
    pub(crate) fn fail_node(&self, node: NodeId, message: &str) {
        let owed: Vec<u64> = self
            .lock()
            .iter()
            .filter(|(_, p)| p.node == Some(node))
            .map(|(id, _)| *id)
            .collect();
        for id in owed {
            if let Some(pending) = self.take(id) {
                let err = ActorError::ActorUnavailable {
                    actor: pending.actor,
                    method: pending.method,
                    message: message.to_owned(),
                };
                (pending.complete)(Err(err));
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
            let err = ActorError::ActorUnavailable {
                actor: ActorLabel::new("?", None),
                method: "?",
                message: message.to_owned(),
            };
            self.fail_stream(id, err);
        }
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
    /// responders.
    fn unavailable(&self, id: u64) {
        let message = "no process serves it: its host is gone, or it stopped".to_owned();
        if let Some(pending) = self.take(id) {
            let err = ActorError::ActorUnavailable {
                actor: pending.actor,
                method: pending.method,
                message,
            };
            (pending.complete)(Err(err));
        } else {
            let err = ActorError::ActorUnavailable {
                actor: ActorLabel::new("?", None),
                method: "?",
                message,
            };
            self.fail_stream(id, err);
        }
    }

    /// Resolves every waiting call to `ActorUnavailable` (this process left the cluster).
    pub(crate) fn fail_all(&self) {
        let streams: Vec<u64> = self
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        for id in streams {
            self.fail_stream(
                id,
                ActorError::ActorUnavailable {
                    actor: ActorLabel::new("?", None),
                    method: "?",
                    message: "this process left the cluster before the stream ended".to_owned(),
                },
            );
        }
        let drained: Vec<Pending> = self.lock().drain().map(|(_, p)| p).collect();
        for pending in drained {
            let err = ActorError::ActorUnavailable {
                actor: pending.actor,
                method: pending.method,
                message: "this process left the cluster before the reply came".to_owned(),
            };
            (pending.complete)(Err(err));
        }
    }
}

/// Subscribes this process's reply inbox.
pub(crate) async fn listen(cluster: &Cluster) -> Result<Subscriber, String> {
    let subject = format!("helio.{}.inbox.{}.*", cluster.name, cluster.node());
    cluster
        .client
        .subscribe(subject)
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
fn deliver(cluster: &Cluster, message: async_nats::Message) {
    {
        let id = message
            .subject
            .rsplit('.')
            .next()
            .and_then(|id| id.parse::<u64>().ok());
        let Some(id) = id else {
            tracing::debug!(subject = %message.subject, "a reply with no call id");
            return;
        };
        let unavailable = message.status == Some(StatusCode::NO_RESPONDERS);
        // The first call of a batch hears for the whole batch.
        if let Some(batch) = cluster.calls.ungroup(id)
            && unavailable
        {
            for other in batch.into_iter().filter(|other| *other != id) {
                cluster.calls.unavailable(other);
            }
        }
        let Some(pending) = cluster.calls.take(id) else {
            if !cluster.calls.stream_frame(id, &message) {
                tracing::debug!(subject = %message.subject, "a reply for no waiting call");
            }
            return;
        };
        let Pending {
            actor,
            method,
            complete,
            ..
        } = pending;
        let result = if unavailable {
            Err(ActorError::ActorUnavailable {
                actor,
                method,
                message: "no process serves it: its host is gone, or it stopped".to_owned(),
            })
        } else {
            let status = message
                .headers
                .as_ref()
                .and_then(|h| h.get(wire::STATUS))
                .map(|v| v.as_str());
            wire::read_reply(status, &message.payload, &actor, method).map(|()| message.payload)
        };
        complete(result);
    }
}

/// Woken when the caller cancels a remote call: asks the host to cancel it.
struct RemoteCancel {
    cluster: Weak<Cluster>,
    subject: async_nats::Subject,
    /// The call's id: its reply subject names it on the host.
    id: u64,
}

impl Wake for RemoteCancel {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let Some(cluster) = self.cluster.upgrade() else {
            return;
        };
        let Ok(payload) = wire::encode(&cluster.inbox_subject(self.id)) else {
            return;
        };
        let mut headers = HeaderMap::new();
        headers.insert(CODEC, CODEC_ID);
        headers.insert(METHOD, VERB_CANCEL);
        cluster.publish(OutboundMessage {
            subject: self.subject.clone(),
            reply: None,
            payload: Bytes::from(payload),
            headers: Some(headers),
        });
    }
}

/// How a remote handle reaches its actor.
pub(crate) struct Link {
    cluster: Arc<Cluster>,
    record: ActorRecord,
    /// The node that runs the actor, as last known (it moves when its node dies).
    host: Arc<AtomicU64>,
    /// A lookup of the actor's new host is under way.
    refreshing: Arc<std::sync::atomic::AtomicBool>,
    subject: async_nats::Subject,
    fingerprint: String,
    stubs: Arc<HashMap<&'static str, Stub>>,
}

impl Link {
    /// The actor's address.
    pub(crate) fn record(&self) -> &ActorRecord {
        &self.record
    }

    /// The node to watch for a call: the actor's host, unless that node is dead. Then the
    /// actor may run elsewhere: its new host is looked up for later calls, and meanwhile a
    /// call nobody serves fails at once with "no responders".
    fn watched_host(&self) -> Option<NodeId> {
        let host = NodeId(self.host.load(Ordering::Acquire));
        if !self.cluster.liveness.is_dead(host) {
            return Some(host);
        }
        if !self.record.name.is_empty() && !self.refreshing.swap(true, Ordering::AcqRel) {
            let cluster = Arc::clone(&self.cluster);
            let record = self.record.clone();
            let (found, refreshing) = (Arc::clone(&self.host), Arc::clone(&self.refreshing));
            cluster.handle.clone().spawn(async move {
                let lookup = cluster
                    .registry
                    .lookup(&record.namespace, &record.name)
                    .await;
                if let Ok(Some(now)) = lookup
                    && now.node == record.node
                    && now.id == record.id
                {
                    found.store(now.host().0, Ordering::Release);
                }
                refreshing.store(false, Ordering::Release);
            });
        }
        None
    }

    fn headers(&self, method: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CODEC, CODEC_ID);
        headers.insert(METHOD, method);
        headers.insert(FINGERPRINT, self.fingerprint.as_str());
        headers
    }

    /// The headers of a call of `method` with the caller's `overrides`.
    fn call_headers(&self, method: &str, overrides: &CallOptions) -> HeaderMap {
        let mut headers = self.headers(method);
        if let Some(group) = &overrides.concurrency_group {
            headers.insert(wire::GROUP, group.as_ref());
        }
        if let Some(retries) = overrides.max_task_retries {
            headers.insert(wire::RETRIES, retries.to_string().as_str());
        }
        headers
    }

    /// Asks the host for the actor's state and restart count (blocking, at most 5 s).
    pub(crate) fn state(&self) -> Result<(ActorState, u32), ActorError> {
        ask_state(
            &self.cluster,
            self.subject.clone(),
            self.headers(VERB_STATE),
            5,
        )
    }

    fn send(&self, method: &str, payload: Vec<u8>, reply: Option<u64>) {
        self.send_headers(self.headers(method), payload, reply);
    }

    fn send_headers(&self, headers: HeaderMap, payload: Vec<u8>, reply: Option<u64>) {
        let reply = reply.map(|id| self.cluster.inbox_subject(id).into());
        self.cluster.publish(OutboundMessage {
            subject: self.subject.clone(),
            reply,
            payload: Bytes::from(payload),
            headers: Some(headers),
        });
    }

    /// Sends a call of `method` with the boxed argument tuple `args`; `done` resolves with
    /// its reply.
    pub(crate) fn call<R: Send + 'static>(
        &self,
        actor: &ActorLabel,
        method: &'static str,
        overrides: CallOptions,
        args: Box<dyn Any + Send>,
        done: Resolver<R>,
    ) {
        let Some(stub) = self.stubs.get(method).copied() else {
            done.complete(Err(ActorError::Wire {
                message: format!("`{method}` of actor {actor} is not a remote method here"),
            }));
            return;
        };
        let payload = match (stub.encode)(args) {
            Ok(payload) => payload,
            Err(err) => {
                done.complete(Err(ActorError::Wire {
                    message: format!("the arguments of `{method}` could not be encoded: {err}"),
                }));
                return;
            }
        };
        let decode = stub.decode;
        let id = self.cluster.calls.reserve();
        // A cancel of the ref tells the host, which cancels the call as a local one would be.
        done.on_cancel(&Waker::from(Arc::new(RemoteCancel {
            cluster: Arc::downgrade(&self.cluster),
            subject: self.subject.clone(),
            id,
        })));
        let complete: Complete = Box::new(move |reply| {
            let result = reply.and_then(|bytes| {
                let value = decode(&bytes).map_err(|err| ActorError::Wire {
                    message: format!("the result of `{method}` could not be decoded: {err}"),
                })?;
                value
                    .downcast::<R>()
                    .map(|value| *value)
                    .map_err(|_| ActorError::Wire {
                        message: format!("internal: the result of `{method}` has another type"),
                    })
            });
            done.complete(result);
        });
        self.cluster.calls.insert_at(
            id,
            Pending {
                actor: actor.clone(),
                method,
                node: self.watched_host(),
                complete,
            },
        );
        self.send_headers(self.call_headers(method, &overrides), payload, Some(id));
    }

    /// Resolves `done` once the actor's constructor has run.
    pub(crate) fn ready(&self, actor: &ActorLabel, done: Resolver<()>) {
        let complete: Complete = Box::new(move |reply| done.complete(reply.map(drop)));
        let id = self.cluster.calls.insert(Pending {
            actor: actor.clone(),
            method: "ready",
            node: self.watched_host(),
            complete,
        });
        self.send(VERB_READY, Vec::new(), Some(id));
    }

    /// Asks the actor's host to kill it.
    pub(crate) fn kill(&self, no_restart: bool) {
        match wire::encode(&no_restart) {
            Ok(payload) => self.send(VERB_KILL, payload, None),
            Err(err) => tracing::error!(%err, "kill not sent"),
        }
    }
}

/// The actor named `(namespace, name)` elsewhere in the cluster, as a remote handle.
///
/// `None` outside cluster mode.
pub(crate) fn lookup<A: ActorClass>(
    namespace: &str,
    name: &str,
) -> Option<Result<Actor<A>, LookupError>> {
    let cluster = current()?;
    let registry = cluster.registry.clone();
    let (ns, n) = (namespace.to_owned(), name.to_owned());
    let found = block_on(&cluster.handle, Duration::from_secs(10), async move {
        registry.lookup(&ns, &n).await
    });
    let record = match found {
        Ok(Ok(Some(record))) => record,
        Ok(Ok(None)) => {
            return Some(Err(LookupError::NotFound {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            }));
        }
        Ok(Err(err)) => return Some(Err(LookupError::Cluster(err))),
        Err(err) => return Some(Err(LookupError::Cluster(err.to_string()))),
    };
    Some(remote_handle(&cluster, record, types::registered::<A>()))
}

/// A handle to the actor `record` describes, if `entry` (the caller's registration) matches.
pub(crate) fn remote_handle<A: ActorClass>(
    cluster: &Arc<Cluster>,
    record: ActorRecord,
    entry: Option<TypeEntry>,
) -> Result<Actor<A>, LookupError> {
    let Some(entry) = entry else {
        return Err(LookupError::NotRegistered {
            namespace: record.namespace,
            name: record.name,
            type_name: std::any::type_name::<A>(),
        });
    };
    if entry.fingerprint != record.fingerprint {
        let actual = if record.type_name == entry.type_name {
            format!("{} (built from another definition)", record.type_name)
        } else {
            record.type_name
        };
        return Err(LookupError::WrongType {
            namespace: record.namespace,
            name: record.name,
            expected: entry.type_name,
            actual: actual.into(),
        });
    }
    let named = !record.name.is_empty();
    let label = ActorLabel::new(
        entry.type_name,
        named.then_some((record.namespace.as_str(), record.name.as_str())),
    );
    let link = Link {
        cluster: Arc::clone(cluster),
        host: Arc::new(AtomicU64::new(record.host().0)),
        refreshing: Arc::default(),
        record: record.clone(),
        subject: cluster.actor_subject(record.node, record.id).into(),
        fingerprint: format!("{:016x}", record.fingerprint),
        stubs: Arc::clone(&entry.stubs),
    };
    let max_pending = record
        .max_pending_calls
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    Ok(Actor::remote(
        label,
        ActorId::of(record.node.0, record.id),
        max_pending,
        record.max_task_retries,
        link,
    ))
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

    fn insert_stream(&self, id: u64, node: Option<NodeId>, sink: Sink) {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, (node, sink));
    }

    fn remove_stream(&self, id: u64) {
        let removed = self
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        drop(removed);
    }
}

impl Link {
    /// Calls the streaming `method`; its items arrive in the returned stream, `window` at
    /// most in flight.
    pub(crate) fn stream<X: Send + 'static, P: PendingArgs>(
        &self,
        actor: &ActorLabel,
        method: &'static str,
        overrides: CallOptions,
        args: P,
        window: usize,
    ) -> ObjectRefStream<X>
    where
        P::Values: Send + 'static,
    {
        let window = window.max(1) as u64;
        let id = self.cluster.calls.reserve();
        let call = self.cluster.inbox_subject(id);
        let origin = Origin {
            actor: actor.clone(),
            id: ActorId::of(self.record.node.0, self.record.id),
            method,
        };
        let consumer = {
            let cluster = Arc::downgrade(&self.cluster);
            let subject = self.subject.clone();
            let call = call.clone();
            let every = (window / 2).max(1);
            let mut consumed = 0u64;
            Box::new(move |took: Took| {
                let Some(cluster) = cluster.upgrade() else {
                    return;
                };
                let (verb, payload) = match took {
                    Took::Item => {
                        consumed += 1;
                        if !consumed.is_multiple_of(every) {
                            return;
                        }
                        (VERB_CREDIT, wire::encode(&(call.clone(), consumed)))
                    }
                    Took::Dropped => {
                        cluster.calls.remove_stream(id);
                        (VERB_CANCEL, wire::encode(&call))
                    }
                };
                if let Ok(payload) = payload {
                    control(&cluster, &subject, verb, payload);
                }
            }) as Box<dyn FnMut(Took) + Send + Sync>
        };
        // Room for the window's items and the final frame.
        let (stream, feed) = ObjectRefStream::fed(window as usize + 1, Some(origin), consumer);
        let Some(stub) = self.stubs.get(method).copied() else {
            let _ = feed.push(Item::Failed(ActorError::Wire {
                message: format!("`{method}` of actor {actor} is not a remote method here"),
            }));
            return stream;
        };
        let sink = stream_sink(actor.clone(), method, stub, feed);
        self.cluster
            .calls
            .insert_stream(id, self.watched_host(), sink);
        let send = {
            let cluster = Arc::clone(&self.cluster);
            let subject = self.subject.clone();
            let mut headers = self.call_headers(method, &overrides);
            headers.insert(WINDOW, window.to_string().as_str());
            let actor = actor.clone();
            move |values: Result<P::Values, ActorError>| {
                let payload = values.and_then(|values| {
                    (stub.encode)(Box::new(values)).map_err(|err| ActorError::Wire {
                        message: format!("the arguments of `{method}` could not be encoded: {err}"),
                    })
                });
                match payload {
                    Ok(payload) => cluster.publish(OutboundMessage {
                        subject,
                        reply: Some(cluster.inbox_subject(id).into()),
                        payload: Bytes::from(payload),
                        headers: Some(headers),
                    }),
                    Err(err) => {
                        tracing::debug!(%actor, %err, "stream not started");
                        cluster.calls.fail_stream(id, err);
                    }
                }
            }
        };
        match args.now() {
            Ok(values) => send(Ok(values)),
            Err(pending) => {
                let handle = self.cluster.handle.clone();
                handle.spawn(async move { send(pending.resolve().await) });
            }
        }
        stream
    }
}

impl Calls {
    /// Ends the stream `id` with `err`.
    fn fail_stream(&self, id: u64, err: ActorError) {
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
        subject: "helio.local".into(),
        reply: None,
        length: payload.len(),
        payload: Bytes::from(payload),
        headers: Some(headers),
        status: None,
        description: None,
    }
}

/// Sends a control message (credit, cancel) to an actor's subject.
fn control(cluster: &Cluster, subject: &async_nats::Subject, verb: &str, payload: Vec<u8>) {
    let mut headers = HeaderMap::new();
    headers.insert(CODEC, CODEC_ID);
    headers.insert(METHOD, verb);
    cluster.publish(OutboundMessage {
        subject: subject.clone(),
        reply: None,
        payload: Bytes::from(payload),
        headers: Some(headers),
    });
}

/// Turns a stream's frames into its items, checking their sequence.
fn stream_sink<X: Send + 'static>(
    actor: ActorLabel,
    method: &'static str,
    stub: Stub,
    feed: Feed<X>,
) -> Sink {
    let mut expected = 0u64;
    Box::new(move |message| {
        let fail = |err: ActorError| {
            let _ = feed.push(Item::Failed(err));
            true
        };
        if message.status == Some(StatusCode::NO_RESPONDERS) {
            return fail(ActorError::ActorUnavailable {
                actor: actor.clone(),
                method,
                message: "no process serves it: its host is gone, or it stopped".to_owned(),
            });
        }
        let header = |name: &str| {
            message
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str())
        };
        match header(wire::STATUS) {
            Some("item") => {
                let seq = header(wire::SEQ).and_then(|s| s.parse::<u64>().ok());
                if seq != Some(expected) {
                    return fail(ActorError::Wire {
                        message: format!(
                            "stream `{method}` of actor {actor} lost items: expected item \
                             {expected}, got {seq:?}"
                        ),
                    });
                }
                expected += 1;
                let item = (stub.decode)(&message.payload)
                    .map_err(|err| err.to_string())
                    .and_then(|item| {
                        item.downcast::<X>()
                            .map(|item| *item)
                            .map_err(|_| "an item of another type".to_owned())
                    });
                match item {
                    Ok(item) => match feed.push(Item::Next(item)) {
                        Ok(()) => false,
                        Err(()) if feed.is_closed() => true,
                        Err(()) => fail(ActorError::Wire {
                            message: format!(
                                "stream `{method}` of actor {actor}: the host sent beyond its \
                                 credit"
                            ),
                        }),
                    },
                    Err(err) => fail(ActorError::Wire {
                        message: format!("an item of `{method}` could not be decoded: {err}"),
                    }),
                }
            }
            Some("end") => {
                let _ = feed.push(Item::End);
                true
            }
            status => match wire::read_reply(status, &message.payload, &actor, method) {
                Err(err) => fail(err),
                Ok(()) => fail(ActorError::Wire {
                    message: "a stream frame without a status".to_owned(),
                }),
            },
        }
    })
}

/// The state and restarts of the actor `record` names, asked of its host (at most 2 s).
pub(crate) fn state_of(
    cluster: &Arc<Cluster>,
    record: &ActorRecord,
) -> Result<(ActorState, u32), ActorError> {
    let mut headers = HeaderMap::new();
    headers.insert(CODEC, CODEC_ID);
    headers.insert(METHOD, VERB_STATE);
    let subject = cluster.actor_subject(record.node, record.id).into();
    ask_state(cluster, subject, headers, 2)
}

fn ask_state(
    cluster: &Arc<Cluster>,
    subject: async_nats::Subject,
    headers: HeaderMap,
    seconds: u64,
) -> Result<(ActorState, u32), ActorError> {
    let (reply, done) = detached_pair::<Bytes>();
    let id = cluster.calls.insert_raw(
        ActorLabel::new("remote actor", None),
        "state",
        Box::new(move |result| done.complete(result)),
    );
    cluster.publish(OutboundMessage {
        subject,
        reply: Some(cluster.inbox_subject(id).into()),
        payload: Bytes::new(),
        headers: Some(headers),
    });
    let bytes = reply.get_timeout(Duration::from_secs(seconds));
    if bytes.is_err() {
        // No answer in time: forget the request.
        drop(cluster.calls.take(id));
    }
    let (state, restarts) =
        wire::decode::<(wire::WireState, u32)>(&bytes?).map_err(|err| ActorError::Wire {
            message: format!("a bad state answer: {err}"),
        })?;
    Ok((state.into_state(), restarts))
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use futures::StreamExt;

    use super::*;
    use crate::remote::Codec;

    fn frame(status: &str, seq: u64, payload: Vec<u8>) -> async_nats::Message {
        let mut headers = HeaderMap::new();
        headers.insert(wire::STATUS, status);
        headers.insert(wire::SEQ, seq.to_string().as_str());
        async_nats::Message {
            subject: "helio.c.inbox.n.1".into(),
            reply: None,
            length: payload.len(),
            payload: Bytes::from(payload),
            headers: Some(headers),
            status: None,
            description: None,
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn item(n: u64) -> Vec<u8> {
        <wire::MsgPack as Codec<u64>>::encode(&n).unwrap()
    }

    fn sink() -> (ObjectRefStream<u64>, Sink) {
        let (stream, feed) = ObjectRefStream::fed(8, None, Box::new(|_| {}));
        let stub = Stub {
            encode: crate::remote::encode_args::<wire::MsgPack, (u64,)>,
            decode: |bytes| Ok(Box::new(<wire::MsgPack as Codec<u64>>::decode(bytes)?)),
        };
        let sink = stream_sink(ActorLabel::new("Counter", None), "count", stub, feed);
        (stream, sink)
    }

    #[test]
    fn a_gap_in_a_stream_fails_it_instead_of_losing_items() {
        let (stream, mut sink) = sink();
        assert!(!sink(&frame("item", 0, item(10))));
        // Item 1 never came.
        assert!(sink(&frame("item", 2, item(12))));
        let items: Vec<_> = block_on(pin!(stream).collect());
        assert_eq!(items[0], Ok(10));
        assert!(
            matches!(&items[1], Err(ActorError::Wire { message }) if message.contains("lost items")),
            "{items:?}"
        );
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn a_stream_ends_with_its_end_frame() {
        let (stream, mut sink) = sink();
        assert!(!sink(&frame("item", 0, item(1))));
        assert!(!sink(&frame("item", 1, item(2))));
        assert!(sink(&frame("end", 2, Vec::new())));
        let items: Vec<_> = block_on(pin!(stream).collect());
        assert_eq!(items, [Ok(1), Ok(2)]);
    }
}
