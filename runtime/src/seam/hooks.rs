//! What the runtime asks of cluster mode ([`Cluster`]), installed while it runs, and how
//! cluster mode starts and stops with the runtime ([`Extension`]).

use std::{
    any::{Any, TypeId},
    collections::BTreeMap,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, PoisonError, RwLock},
};

use tokio::runtime::Handle;

pub use crate::object_ref::{Borrow, Done};
use crate::{
    Actor, ActorClass, ActorError, ActorInfo, ActorOptions, DeathCause, LookupError, RuntimeError,
    label::ActorId, options::Placement, registry::Key,
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

    /// The address of the value `export` stands for, as bytes another process can borrow it
    /// by (an `ObjectRef` being serialized).
    ///
    /// # Errors
    /// Why the ref cannot cross processes.
    fn export_ref(&self, export: Export) -> Result<Vec<u8>, String>;

    /// The value at `address`, borrowed (an `ObjectRef` being deserialized).
    ///
    /// # Errors
    /// Why the ref cannot be read here.
    fn import_ref(&self, address: &[u8]) -> Result<Borrow, String>;

    /// Every resource of the cluster's live nodes, summed by name: `(total, free now)`, as
    /// each node answers now (`helio::cluster_resources`, `helio::available_resources`).
    fn resources(&self) -> (BTreeMap<String, f64>, BTreeMap<String, f64>);

    /// Reserves a placement group's bundles on the live nodes, all or nothing, as its
    /// strategy places them: the node of each bundle.
    ///
    /// # Errors
    /// The first bundle that does not fit now, and why (the runtime tries again later).
    fn reserve_group(
        &self,
        request: crate::placement_group::spec::ReserveGroup,
    ) -> Pin<
        Box<
            dyn Future<
                    Output = Result<Vec<crate::NodeId>, crate::placement_group::spec::Unreserved>,
                > + Send,
        >,
    >;

    /// Gives back group `group`'s bundles on `nodes` (it was removed).
    fn release_group(
        &self,
        group: crate::placement_group::spec::PlacementGroupId,
        nodes: Vec<crate::NodeId>,
    );

    /// An empty buffer with room for `len` bytes, to encode a large value into: cluster mode
    /// hands out memory it has already (the buffer of a large value it sent or read before)
    /// rather than fresh pages.
    fn buffer(&self, len: usize) -> Vec<u8> {
        Vec::with_capacity(len)
    }
}

/// An `ObjectRef` crossing processes, as the runtime hands it to cluster mode.
pub struct Export {
    /// The encoding this serialization is part of: one message may serialize a ref more
    /// than once (a serializer probes, a large value is encoded again), and each of those
    /// is the same crossing.
    pub encoding: u64,
    /// Whose the value is.
    pub value: Exported,
}

/// The value of an `ObjectRef` crossing processes.
pub enum Exported {
    /// A value of this process.
    Owned {
        /// Its identity in this process: one value exported twice is one object.
        identity: usize,
        /// The value, encoded, once it is ready (each call reads it again; the owner keeps
        /// it through this while other processes may read it).
        encode: Arc<dyn Fn() -> EncodedValue + Send + Sync>,
    },
    /// A value this process borrowed itself: its owner's address of it.
    Borrowed(Vec<u8>),
}

/// A value on its way to being encoded.
pub type EncodedValue = Pin<Box<dyn Future<Output = Result<Vec<u8>, ActorError>> + Send>>;

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

/// Why a ref cannot cross processes: this process is in no cluster.
pub const REF_NOT_IN_A_CLUSTER: &str = "an ObjectRef crosses processes only in cluster mode: \
                                        call `helio::init(helio::Config::cluster(url))` first";

/// Why a handle cannot cross processes: this process is in no cluster.
pub const NOT_IN_A_CLUSTER: &str = "a handle crosses processes only in cluster mode: call \
                                    `helio::init(helio::Config::cluster(url))` first";

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
