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

use std::{
    any::{Any, TypeId},
    fmt,
    sync::{Arc, PoisonError, RwLock},
    task::Waker,
};

use futures::future::BoxFuture;
use tokio::runtime::Handle;

#[cfg(feature = "serde")]
pub use crate::msgpack::MsgPack;
use crate::{
    Actor, ActorClass, ActorError, ActorInfo, ActorOptions, ActorState, CallOptions, DeathCause,
    LookupError, ObjectRef, RuntimeError,
};
pub use crate::{
    actor::{ActorCell, ActorShared, Kill},
    arg::PendingArgs,
    label::{ActorId, ActorLabel, set_node},
    object_ref::{Canceller, Origin, Resolver, detached_pair},
    options::Placement,
    registry::Key,
    remote::{
        Codec, DecodeFn, EncodeFn, Remotable, RemoteMethod, Serve, ServeFn, ServeStreamFn,
        ServedCall, Stub, WireError, encode_args,
    },
    resources::{CPU, Ledger, Pick, Resources, pick},
    stream::{Item, Took},
    task::{Answer, RemoteFn, Router, Sent, Task, route_through, submit_here},
};

/// An actor type, erased: what the cluster keys its registrations by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    /// `TypeId::of::<A>()`.
    pub type_id: TypeId,
    /// `std::any::type_name::<A>()`.
    pub type_name: &'static str,
}

impl Class {
    /// The class of `A`.
    pub fn of<A: ActorClass>() -> Self {
        Class {
            type_id: TypeId::of::<A>(),
            type_name: std::any::type_name::<A>(),
        }
    }
}

/// What an actor hosted by another process answers. A remote handle carries one; its calls go
/// here instead of into a mailbox.
pub trait RemoteActor: Send + Sync + 'static {
    /// Sends a call of `method` with the boxed argument tuple `args`; `reply` resolves with
    /// the boxed result (or the call's error).
    fn call(
        &self,
        actor: &ActorLabel,
        method: &'static str,
        overrides: CallOptions,
        args: Box<dyn Any + Send>,
        reply: Reply,
    );

    /// Starts a streaming call of `method`; `open(capacity, origin, consumer)` makes the
    /// caller's stream and gives its feed.
    fn stream(&self, call: StreamCall<'_>, open: &mut dyn FnMut(Opening) -> Box<dyn AnyFeed>);

    /// Resolves `done` once the actor's constructor has run.
    fn ready(&self, actor: &ActorLabel, done: Resolver<()>);

    /// The actor's state and restart count, as its host (or its record) says.
    fn state(&self) -> (ActorState, u32);

    /// Asks the host to kill the actor.
    fn kill(&self, no_restart: bool);

    /// The concrete type, for the cluster that made it.
    fn as_any(&self) -> &dyn Any;
}

/// A streaming call to an actor in another process.
pub struct StreamCall<'a> {
    /// The actor.
    pub actor: &'a ActorLabel,
    /// The streaming method.
    pub method: &'static str,
    /// The caller's group and retries.
    pub overrides: CallOptions,
    /// The argument tuple, boxed.
    pub args: Args,
    /// How many items the producer may send ahead of the consumer.
    pub window: usize,
}

/// What the cluster asks of the runtime to open a stream fed from another process.
pub struct Opening {
    /// How many items the stream buffers.
    pub capacity: usize,
    /// The call, for errors.
    pub origin: Origin,
    /// Told of each item taken and of an early drop.
    pub consumer: Box<dyn FnMut(Took) + Send + Sync>,
}

/// Arguments of a call that crosses processes: their values now, or a future of them (when a
/// ref among them is still pending).
pub enum Args {
    /// Every value is here.
    Ready(Box<dyn Any + Send>),
    /// Some refs are pending.
    Pending(BoxFuture<'static, Result<Box<dyn Any + Send>, ActorError>>),
}

impl Args {
    /// Erases `args`.
    pub fn of<P: PendingArgs>(args: P) -> Self
    where
        P::Values: Send + 'static,
    {
        match args.now() {
            Ok(values) => Args::Ready(Box::new(values)),
            Err(pending) => Args::Pending(Box::pin(async move {
                pending
                    .resolve()
                    .await
                    .map(|values| Box::new(values) as Box<dyn Any + Send>)
            })),
        }
    }
}

/// The feeding end of a stream, erased: items arrive boxed and are checked to be the
/// stream's item type.
pub trait AnyFeed: Send + Sync {
    /// Queues an item without waiting; `Err` when the stream is full (the feeder broke its
    /// credit) or the consumer is gone. An item of another type ends the stream with an error.
    #[allow(clippy::result_unit_err)]
    fn push(&self, item: Item<Box<dyn Any + Send>>) -> Result<(), ()>;

    /// Whether the consumer dropped the stream.
    fn is_closed(&self) -> bool;
}

/// Where a remote call's result goes: the caller's ref, erased over its type.
pub struct Reply {
    method: &'static str,
    inner: Box<dyn ErasedResolver>,
}

trait ErasedResolver: Send {
    fn complete(
        self: Box<Self>,
        method: &'static str,
        result: Result<Box<dyn Any + Send>, ActorError>,
    );
    fn on_cancel(&self, waker: &Waker);
}

impl<R: Send + 'static> ErasedResolver for Resolver<R> {
    fn complete(
        self: Box<Self>,
        method: &'static str,
        result: Result<Box<dyn Any + Send>, ActorError>,
    ) {
        let result = result.and_then(|value| {
            value
                .downcast::<R>()
                .map(|value| *value)
                .map_err(|_| ActorError::Wire {
                    message: format!("internal: the result of `{method}` has another type"),
                })
        });
        (*self).complete(result);
    }

    fn on_cancel(&self, waker: &Waker) {
        Resolver::on_cancel(self, waker);
    }
}

impl Reply {
    /// The reply of a call of `method` that `done` resolves.
    pub(crate) fn new<R: Send + 'static>(method: &'static str, done: Resolver<R>) -> Self {
        Reply {
            method,
            inner: Box::new(done),
        }
    }

    /// Resolves the call with its boxed result (checked to be the call's result type).
    pub fn complete(self, result: Result<Box<dyn Any + Send>, ActorError>) {
        self.inner.complete(self.method, result);
    }

    /// Wakes `waker` when the caller cancels the call.
    pub fn on_cancel(&self, waker: &Waker) {
        self.inner.on_cancel(waker);
    }
}

/// A named actor about to be created here, as the cluster is asked to claim its name.
pub struct Claim<'a> {
    /// Its type.
    pub class: Class,
    /// `(namespace, name)`.
    pub key: &'a Key,
    /// The id it gets unless the cluster gives another.
    pub id: ActorId,
    /// Whether it outlives its handles.
    pub detached: bool,
    /// Whether an existing actor of that name is wanted rather than an error.
    pub get_if_exists: bool,
    /// Its `max_pending_calls`.
    pub max_pending_calls: Option<usize>,
    /// Its `max_task_retries`.
    pub max_task_retries: i64,
    /// Its options and constructor arguments (a boxed tuple), for starting it again
    /// elsewhere; asked only for a detached actor.
    pub revival: &'a mut dyn FnMut() -> (ActorOptions, Box<dyn Any + Send>),
}

/// What cluster mode says about creating a named actor.
pub enum Claimed {
    /// Not served to the cluster (no cluster, or its type is not registered): local rules
    /// apply.
    Local,
    /// This process won the name: serve the actor once it is created.
    Serve(Box<dyn Hosting>),
    /// Another process holds the name and `get_if_exists` asked for it: its handle (a boxed
    /// `Actor<A>`).
    Existing(Box<dyn Any + Send>),
    /// The actor must not start.
    Refused(DeathCause),
}

/// A name this process won, to serve once its actor exists; released if dropped unserved.
pub trait Hosting: Send {
    /// The id the actor takes.
    fn id(&self) -> ActorId;
    /// The restarts it starts with (it moved here from a dead node that many times).
    fn moves(&self) -> u32;
    /// Serves the actor of `cell` (an `&Arc<ActorCell<A>>`) until it dies.
    fn serve(self: Box<Self>, cell: &dyn Any);
}

/// What the runtime asks of cluster mode.
pub trait Cluster: Send + Sync + 'static {
    /// Creates an actor of `class` on the node `placement` picks; a boxed `Actor<A>`.
    ///
    /// # Errors
    /// The cause the actor is dead with.
    fn place(
        &self,
        class: Class,
        options: ActorOptions,
        placement: Placement,
        args: Box<dyn Any + Send>,
    ) -> Result<Box<dyn Any + Send>, DeathCause>;

    /// Claims a name cluster-wide before its actor is created here.
    fn claim(&self, claim: Claim<'_>) -> Claimed;

    /// The actor named `(namespace, name)` elsewhere in the cluster: a boxed `Actor<A>`.
    ///
    /// # Errors
    /// Not found, of another type, or the registry could not be read.
    fn lookup(
        &self,
        class: Class,
        namespace: &str,
        name: &str,
    ) -> Result<Box<dyn Any + Send>, LookupError>;

    /// With `dead` false, the live named actors of the other nodes; with `dead`, the named
    /// actors that died for good.
    fn list(&self, dead: bool) -> Vec<ActorInfo>;

    /// The address of `actor` (an `&Actor<A>`), as bytes another process can attach to.
    ///
    /// # Errors
    /// Why the handle cannot cross processes.
    fn address(&self, class: Class, actor: &dyn Any) -> Result<Vec<u8>, String>;

    /// The handle (a boxed `Actor<A>`) of the actor at `address`.
    ///
    /// # Errors
    /// Why the handle cannot be made here.
    fn attach(&self, class: Class, address: &[u8]) -> Result<Box<dyn Any + Send>, String>;
}

/// Something `init` starts with the runtime and `shutdown` stops: cluster mode.
pub trait Extension: Send + Sync + fmt::Debug + 'static {
    /// Starts on `handle`, the runtime helio's own tasks run on.
    ///
    /// # Errors
    /// Why it could not start: `init` then fails with it.
    fn start(&self, handle: Handle) -> Result<(), RuntimeError>;

    /// Stops, at shutdown, after the local actors were told to stop.
    fn stop(&self);
}

static CLUSTER: RwLock<Option<Arc<dyn Cluster>>> = RwLock::new(None);

/// Installs cluster mode's hooks (`None` removes them).
pub fn install(cluster: Option<Arc<dyn Cluster>>) {
    *CLUSTER.write().unwrap_or_else(PoisonError::into_inner) = cluster;
}

/// The installed cluster, if any. Asked at spawn and lookup, never per call.
pub(crate) fn cluster() -> Option<Arc<dyn Cluster>> {
    CLUSTER
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Unboxes what the cluster made for `A`.
pub(crate) fn unbox<A: ActorClass>(actor: Box<dyn Any + Send>) -> Result<Actor<A>, String> {
    actor.downcast::<Actor<A>>().map(|a| *a).map_err(|_| {
        format!(
            "internal: the cluster made a handle of another type than `{}`",
            std::any::type_name::<A>()
        )
    })
}

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
    let (stream, feed) = crate::ObjectRefStream::fed(capacity, origin, consumer);
    (stream, Box::new(feed))
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

/// What this node has for tasks and actors in all, and what is held of it now.
pub fn node_resources() -> (Resources, Resources) {
    crate::system::task_pool().snapshot()
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
