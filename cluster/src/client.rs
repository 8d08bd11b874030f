//! The caller's side: remote handles (`Link`) and their calls.
//!
//! A call registers in the process's [`Calls`](super::calls::Calls) and sends one message to
//! its actor's subject, with the reply subject that names it; streams are in
//! `remote_stream.rs`.

use std::{
    any::Any,
    collections::HashMap,
    sync::{Arc, Weak},
    task::{Wake, Waker},
    time::Duration,
};

use async_nats::{HeaderMap, message::OutboundMessage};
use bytes::Bytes;

use super::{
    Cluster, NodeId,
    address::Address,
    block_on,
    calls::{Complete, Home, Pending, Rerun},
    registry::ActorRecord,
    types::{self, TypeEntry},
    wire::{
        self, CODEC, CODEC_ID, FINGERPRINT, METHOD, VERB_CANCEL, VERB_KILL, VERB_READY, VERB_STATE,
    },
};
use crate::{
    ActorError, ActorState, CallOptions, LookupError,
    seam::{
        self, ActorId, ActorLabel, AnyFeed, Class, Opening, RemoteActor, Reply, Resolver,
        StreamCall, Stub, detached_pair,
    },
};

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
        if let Ok(payload) = wire::encode(&cluster.subjects.inbox(self.id)) {
            cluster.control(&self.subject, VERB_CANCEL, payload);
        }
    }
}

/// How a remote handle reaches its actor.
pub(crate) struct Link {
    pub(super) cluster: Arc<Cluster>,
    pub(super) address: Arc<Address>,
    pub(super) subject: async_nats::Subject,
    fingerprint: String,
    pub(super) stubs: Arc<HashMap<&'static str, Stub>>,
}

impl Link {
    /// The actor's address.
    pub(crate) fn record(&self) -> &ActorRecord {
        &self.address.record
    }

    /// The node to watch for a call: the actor's host, unless that node is dead. Then the
    /// actor may run elsewhere: its new host is looked up for later calls, and meanwhile a
    /// call nobody serves fails at once with "no responders".
    pub(super) fn watched_host(&self) -> Option<NodeId> {
        let host = self.address.host();
        if !self.cluster.liveness.is_dead(host) {
            return Some(host);
        }
        let address = &self.address;
        if !address.record.name.is_empty() && address.start_refresh() {
            let cluster = Arc::clone(&self.cluster);
            let address = Arc::clone(address);
            cluster.handle.clone().spawn(async move {
                let record = &address.record;
                let lookup = cluster
                    .registry
                    .lookup(&record.namespace, &record.name)
                    .await;
                if let Ok(Some(now)) = lookup
                    && now.same_actor(record)
                {
                    address.answered_by(now.host());
                }
                address.refreshed();
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
    pub(super) fn call_headers(&self, method: &str, overrides: &CallOptions) -> HeaderMap {
        let mut headers = self.headers(method);
        let (group, retries) = seam::call_overrides(overrides);
        if let Some(group) = group {
            headers.insert(wire::GROUP, group);
        }
        if let Some(retries) = retries {
            headers.insert(wire::RETRIES, retries.to_string().as_str());
        }
        headers
    }

    fn send(&self, method: &str, payload: Vec<u8>, reply: Option<u64>) {
        self.send_headers(self.headers(method), payload, reply);
    }

    fn send_headers(&self, headers: HeaderMap, payload: Vec<u8>, reply: Option<u64>) {
        self.publish(headers, Bytes::from(payload), reply);
    }

    fn publish(&self, headers: HeaderMap, payload: Bytes, reply: Option<u64>) {
        let reply = reply.map(|id| self.cluster.subjects.inbox(id).into());
        self.cluster.publish(OutboundMessage {
            subject: self.subject.clone(),
            reply,
            payload,
            headers: Some(headers),
        });
    }
}

impl RemoteActor for Link {
    /// Asks the host for the actor's state and restart count (blocking, at most 5 s); when
    /// the host does not answer, the actor's record answers (`verdict.rs`): `Dead` with its
    /// cause, or `Unreachable`.
    fn state(&self) -> (ActorState, u32) {
        let asked = ask_state(
            &self.cluster,
            self.subject.clone(),
            self.headers(VERB_STATE),
            5,
        );
        if let Ok(answer) = asked {
            return answer;
        }
        let cluster = Arc::clone(&self.cluster);
        let address = Arc::clone(&self.address);
        let read = async move { super::verdict::state(&cluster, &address).await };
        block_on(&self.cluster.handle, Duration::from_secs(5), read)
            .unwrap_or((ActorState::Unreachable, self.address.record.moves))
    }

    /// Sends a call of `method` with the boxed argument tuple `args`; `done` resolves with
    /// its reply.
    fn call(
        &self,
        actor: &ActorLabel,
        method: &'static str,
        overrides: CallOptions,
        args: Box<dyn Any + Send>,
        done: Reply,
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
                decode(&bytes).map_err(|err| ActorError::Wire {
                    message: format!("the result of `{method}` could not be decoded: {err}"),
                })
            });
            done.complete(result);
        });
        let mut headers = self.call_headers(method, &overrides);
        let payload = Bytes::from(payload);
        // A detached named actor restarts on another node when its node dies: the call may
        // then run again there, while its task retries allow.
        let retries = seam::call_overrides(&overrides)
            .1
            .unwrap_or(self.record().max_task_retries);
        if retries != 0 {
            // Its host keeps the reply for a copy sent again after an outage (`answered.rs`).
            headers.insert(wire::RESENDS, "1");
        }
        // Any call with retries left is sent again when an outage leaves it in doubt
        // (`outage.rs`); only a detached named actor's moves to its new host (`rerun.rs`).
        let home = (self.record().detached && !self.record().name.is_empty()).then(|| Home {
            namespace: self.record().namespace.clone(),
            name: self.record().name.clone(),
            actor_id: self.record().id,
            actor_node: self.record().node,
        });
        let rerun = (retries != 0).then(|| Rerun {
            home,
            subject: self.subject.clone(),
            headers: headers.clone(),
            payload: payload.clone(),
            retries,
            deadline: None,
        });
        let node = self.watched_host();
        self.cluster.calls.insert_at(
            id,
            Pending {
                actor: actor.clone(),
                method,
                node,
                complete,
                rerun,
                // Not detached, or no restarts left (as last looked up: restarts only go).
                dies_with_host: !self.record().can_move(),
                address: Some(Arc::clone(&self.address)),
                sent: Some(self.cluster.epochs.stamp(node)),
            },
        );
        if !self.cluster.refuse_if_cut_off(id) {
            self.publish(headers, payload, Some(id));
        }
    }

    fn stream(&self, call: StreamCall<'_>, open: &mut dyn FnMut(Opening) -> Box<dyn AnyFeed>) {
        self.open_stream(call, open);
    }

    /// Resolves `done` once the actor's constructor has run.
    fn ready(&self, actor: &ActorLabel, done: Resolver<()>) {
        let complete: Complete = Box::new(move |reply| done.complete(reply.map(drop)));
        let node = self.watched_host();
        let id = self.cluster.calls.insert(Pending {
            rerun: None,
            dies_with_host: false,
            address: Some(Arc::clone(&self.address)),
            actor: actor.clone(),
            method: "ready",
            node,
            complete,
            sent: Some(self.cluster.epochs.stamp(node)),
        });
        if !self.cluster.refuse_if_cut_off(id) {
            self.send(VERB_READY, Vec::new(), Some(id));
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    /// Asks the actor's host to kill it.
    fn kill(&self, no_restart: bool) {
        match wire::encode(&no_restart) {
            Ok(payload) => self.send(VERB_KILL, payload, None),
            Err(err) => tracing::error!(%err, "kill not sent"),
        }
    }
}

/// The actor of `class` named `(namespace, name)` elsewhere in the cluster, as a remote
/// handle (a boxed `Actor<A>`).
pub(crate) fn lookup(
    cluster: &Arc<Cluster>,
    class: Class,
    namespace: &str,
    name: &str,
) -> Result<Box<dyn Any + Send>, LookupError> {
    let registry = cluster.registry.clone();
    let (ns, n) = (namespace.to_owned(), name.to_owned());
    let found = block_on(&cluster.handle, Duration::from_secs(10), async move {
        registry.lookup(&ns, &n).await
    });
    let record = match found {
        // A tombstone: the actor died for good, as if the name were free.
        Ok(Ok(Some(record))) if record.death.is_none() => record,
        Ok(Ok(_)) => {
            return Err(LookupError::NotFound {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            });
        }
        Ok(Err(err)) => return Err(LookupError::Cluster(err)),
        Err(err) => return Err(LookupError::Cluster(err.to_string())),
    };
    remote_handle(cluster, record, types::by_class(class), class)
}

/// A handle (a boxed `Actor<A>`) to the actor `record` describes, if `entry` (the caller's
/// registration of `class`) matches.
pub(crate) fn remote_handle(
    cluster: &Arc<Cluster>,
    record: ActorRecord,
    entry: Option<TypeEntry>,
    class: Class,
) -> Result<Box<dyn Any + Send>, LookupError> {
    let Some(entry) = entry else {
        return Err(LookupError::NotRegistered {
            namespace: record.namespace,
            name: record.name,
            type_name: class.type_name,
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
        address: Arc::new(Address::new(record.clone())),
        subject: cluster.subjects.actor(record.node, record.id).into(),
        fingerprint: format!("{:016x}", record.fingerprint),
        stubs: Arc::clone(&entry.stubs),
    };
    let max_pending = record
        .max_pending_calls
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    Ok((entry.remote)(
        label,
        ActorId::of(record.node.as_u64(), record.id),
        max_pending,
        record.max_task_retries,
        Arc::new(link),
    ))
}

/// The state and restarts of the actor `record` names, asked of its host (at most 2 s).
pub(crate) fn state_of(
    cluster: &Arc<Cluster>,
    record: &ActorRecord,
) -> Result<(ActorState, u32), ActorError> {
    let mut headers = HeaderMap::new();
    headers.insert(CODEC, CODEC_ID);
    headers.insert(METHOD, VERB_STATE);
    let subject = cluster.subjects.actor(record.node, record.id).into();
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
        reply: Some(cluster.subjects.inbox(id).into()),
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
