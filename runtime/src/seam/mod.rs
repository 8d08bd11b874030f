//! The seam: the one door between the runtime and cluster mode (the `helio-cluster` crate).
//!
//! The runtime names nothing of the cluster. The arrows point one way: the cluster depends on
//! the runtime and reaches it only through this module; the runtime reaches the cluster only
//! through the traits below, which cluster mode installs when it starts.
//!
//! - [`RemoteActor`]: what an actor hosted by another process answers (call, stream, ready,
//!   state, kill). A handle to such an actor carries one.
//! - [`Cluster`]: what the runtime asks of cluster mode (place an actor, claim a name, look a
//!   name up, list the actors of other nodes, turn a handle into an address and back).
//!   Installed by [`Extension::start`] through [`install`], removed by [`Extension::stop`].
//! - [`Router`]: where cluster tasks go ([`route_through`]).
//! - [`Extension`]: started by `init` with the runtime's handle, stopped by `shutdown`.
//!
//! Generic calls cross the seam type-erased: an actor type is a [`Class`], values are
//! `Box<dyn Any + Send>`, and the runtime downcasts what comes back (a mismatch is an error,
//! never a panic).
//!
//! What follows the traits is the rest of the runtime the cluster may use: the pieces a host
//! needs to serve a local actor to other processes, and to answer for a remote one.
//!
//! Not a stable API: only `helio-cluster` uses it.

pub(crate) mod hooks;
pub(crate) mod remote;

use std::{any::Any, sync::Arc};

pub use hooks::{
    Borrow, Claim, Claimed, Class, Cluster, Done, EncodedValue, Export, Exported, Extension,
    Hosting, NOT_IN_A_CLUSTER, REF_NOT_IN_A_CLUSTER, install,
};
pub use remote::{Args, Opening, RemoteActor, Reply, StreamCall};

#[cfg(feature = "serde")]
pub use crate::msgpack::MsgPack;
use crate::{Actor, ActorClass, ActorInfo, ActorOptions, ActorState, CallOptions, ObjectRef};
pub use crate::{
    actor::{ActorCell, ActorShared, Kill},
    arg::{ArgValues, PendingArgs},
    feed::{AnyFeed, Item, Took},
    label::{ActorId, ActorLabel, set_node},
    object_ref::{Canceller, Origin, Resolver, detached_pair},
    options::Placement,
    placement_group::{
        InGroup, PlacementGroupId, PlacementStrategy, ReserveGroup, Unreserved, bundle_node,
        group_nodes, held_parts, node_died, release_part, reserve_part,
    },
    registry::Key,
    remote::{
        Codec, DecodeFn, EncodeFn, Remotable, RemoteMethod, Serve, ServeFn, ServeStreamFn,
        ServedCall, Stub, WireError, encode_args, encode_call,
    },
    resource_pool::{Held, on_freed},
    resources::{CPU, Ledger, Pick, Resources, pick},
    restart::{may_restart, restarts_left_after, take_retry},
    task::{
        Answer, RemoteFn, Router, Sent, Task, TaskCrosses, route_through, submit_here,
        submit_holding, try_hold,
    },
};

/// A handle to the actor `id`, hosted by another process and reached through `remote`.
pub fn remote_handle<A: ActorClass>(
    label: ActorLabel,
    id: ActorId,
    max_pending_calls: Option<usize>,
    max_task_retries: i64,
    remote: Arc<dyn RemoteActor>,
) -> Box<dyn Any + Send> {
    Box::new(Actor::<A>::remote(
        label,
        id,
        max_pending_calls,
        max_task_retries,
        remote,
    ))
}

/// A stream of `capacity` buffered items fed from elsewhere, and its feed (what
/// [`RemoteActor::stream`]'s `open` gives; also for tests of a feeder).
pub fn fed_stream<X: Send + 'static>(
    capacity: usize,
    origin: Option<Origin>,
    consumer: Box<dyn FnMut(Took) + Send + Sync>,
) -> (crate::ObjectRefStream<X>, Box<dyn AnyFeed>) {
    crate::ObjectRefStream::fed(capacity, origin, consumer)
}

/// Cancels the call of `result` (a task run here for another node) when that node asks.
pub fn canceller_of<T: Send + 'static>(result: &ObjectRef<T>) -> Canceller {
    result.canceller()
}

/// A call's overrides: its concurrency group and `max_task_retries`, as the caller set them.
pub fn call_overrides(options: &CallOptions) -> (Option<&str>, Option<i64>) {
    (
        options.concurrency_group.as_deref(),
        options.max_task_retries,
    )
}

/// What a list of actors says of one: for the live actors of other nodes and the tombstones.
pub struct InfoParts {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its type's name.
    pub type_name: String,
    /// Its state.
    pub state: ActorState,
    /// Its restarts.
    pub restarts: u32,
    /// Whether it is detached.
    pub detached: bool,
    /// Its host.
    pub node: Option<crate::NodeId>,
    /// Its host's process id.
    pub pid: Option<u32>,
}

impl From<InfoParts> for ActorInfo {
    fn from(parts: InfoParts) -> Self {
        ActorInfo {
            namespace: parts.namespace,
            name: parts.name,
            type_name: parts.type_name.into(),
            state: parts.state,
            restarts: parts.restarts,
            detached: parts.detached,
            node: parts.node,
            pid: parts.pid,
        }
    }
}

/// What an actor with `options` holds while it lives; an error names a bad amount.
///
/// # Errors
/// A bad amount, named.
pub fn actor_demand(options: &ActorOptions) -> Result<Resources, String> {
    options.demand()
}

/// What a task with `options` holds while it runs; an error names a bad amount.
///
/// # Errors
/// A bad amount, named.
pub fn task_demand(options: &crate::TaskOptions) -> Result<Resources, String> {
    options.demand()
}

/// How long a task with `options` may wait for its resources (`resource_timeout`).
pub fn task_resource_timeout(options: &crate::TaskOptions) -> Option<std::time::Duration> {
    options.resource_timeout
}

/// What this node has for tasks and actors in all, and what is held of it now.
pub fn node_resources() -> (Resources, Resources) {
    crate::system::task_pool().snapshot()
}

/// How many tasks this node runs now (each holds its resources, a task that asks for none
/// included), and how many wait in its line for their resources. Cheap: two atomic reads.
pub fn node_tasks() -> (u64, u64) {
    crate::system::task_pool().tasks()
}

/// The cluster side of a remote handle, if `actor` is one.
pub fn remote_of<A: ActorClass>(actor: &Actor<A>) -> Option<&Arc<dyn RemoteActor>> {
    actor.link()
}

/// The cell the handles of `actor` share (the cluster serves an actor through a weak one).
pub fn cell_of<A: ActorClass>(actor: &Actor<A>) -> &Arc<ActorCell<A>> {
    actor.cell()
}

/// A handle to the actor of `cell`.
pub fn from_cell<A: ActorClass>(cell: Arc<ActorCell<A>>) -> Actor<A> {
    Actor::from_cell(cell)
}

/// Where the value of `r` is when another process owns it (its owner's address, as cluster
/// mode wrote it); `None` for a value of this process.
pub fn borrowed_from<T: Send + 'static>(r: &crate::ObjectRef<T>) -> Option<Vec<u8>> {
    r.borrowed_from().map(<[u8]>::to_vec)
}
