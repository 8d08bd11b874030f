//! Registered actor types: `helio::register::<A>()` and the tables it records.
//!
//! Every process that hosts an actor type, or calls one hosted elsewhere, registers it: the
//! registration is where the serde bounds of its arguments and results are checked, and it
//! records how to serve and call each remote method without them.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex, PoisonError},
};

use crate::{
    ActorClass, ActorOptions, MsgPack,
    seam::{
        self, ActorId, ActorLabel, Claim, Claimed, Class, EncodeFn, Remotable, RemoteActor, Serve,
        Stub,
    },
};

use super::{Cluster, claim, current, handles, placement, registry::ActorRecord, wire::Failure};

/// How to serve the remote methods of an actor type `A` on this node.
pub(crate) struct HostTable<A> {
    pub(crate) fingerprint: u64,
    /// The fingerprint as calls carry it (hex).
    pub(crate) fingerprint_hex: String,
    pub(crate) methods: HashMap<&'static str, Serve<A>>,
}

/// One registered type.
#[derive(Clone)]
pub(crate) struct TypeEntry {
    pub(crate) type_name: &'static str,
    pub(crate) fingerprint: u64,
    /// The caller's side of each remote method.
    pub(crate) stubs: Arc<HashMap<&'static str, Stub>>,
    /// An `Arc<HostTable<A>>`.
    host: Arc<dyn Any + Send + Sync>,
    /// Encodes the constructor's arguments (a boxed tuple), to create the actor elsewhere.
    pub(crate) encode_constructor: EncodeFn,
    /// Creates the actor on this node from a spawn request.
    pub(crate) spawn: SpawnFn,
    /// A remote handle (a boxed `Actor<A>`).
    pub(crate) remote: RemoteFn,
    /// Claims a name for an actor about to be created here.
    pub(crate) claim: fn(Claim<'_>) -> Claimed,
    /// The address of a handle (an `&Actor<A>`), serving it first if it is local.
    pub(crate) address: AddressFn,
    /// The handle (a boxed `Actor<A>`) of a served actor of this process, by its local id.
    pub(crate) local: LocalFn,
}

/// The address of a handle of a registered type (an `&Actor<A>`).
pub(crate) type AddressFn = fn(&Arc<Cluster>, &dyn Any) -> Result<ActorRecord, String>;

/// The handle (a boxed `Actor<A>`) of a served actor, by its local id.
pub(crate) type LocalFn = fn(&Arc<Cluster>, u64) -> Option<Box<dyn Any + Send>>;

/// Makes a remote handle of a registered type.
pub(crate) type RemoteFn =
    fn(ActorLabel, ActorId, Option<usize>, i64, Arc<dyn RemoteActor>) -> Box<dyn Any + Send>;

/// Creates an actor of a registered type here, from options and encoded arguments.
pub(crate) type SpawnFn = fn(ActorOptions, &[u8]) -> Result<ActorRecord, Failure>;

impl TypeEntry {
    /// The host table, when this entry is for `A`.
    pub(crate) fn host<A: ActorClass>(&self) -> Option<Arc<HostTable<A>>> {
        Arc::clone(&self.host).downcast::<HostTable<A>>().ok()
    }
}

static TYPES: LazyLock<Mutex<HashMap<TypeId, TypeEntry>>> = LazyLock::new(Default::default);

/// The registration of `A`, if this process made one.
pub(crate) fn registered<A: ActorClass>() -> Option<TypeEntry> {
    by_class(Class::of::<A>())
}

/// Lets this process host actors of type `A` and call those hosted elsewhere (cluster mode).
///
/// Register each actor type that crosses processes, in every process that creates, hosts or
/// calls it; for a generic actor, each instantiation (`register::<Chan<i64>>()`). Registering
/// twice is harmless. It compiles only when the constructor's arguments and every remote
/// method's arguments and result are `serde::Serialize + serde::de::DeserializeOwned`; the
/// error names the type that is not.
///
/// Named actors of a registered type created in this process are published to the cluster,
/// so [`get_actor`](helio_runtime::get_actor) finds them from any process.
///
/// ```
/// use helio::prelude::*;
///
/// pub struct Counter { value: i64 }
///
/// #[actor]
/// impl Counter {
///     pub fn new(start: i64) -> Self { Counter { value: start } }
///
///     #[remote_method]
///     pub fn add(&mut self, by: i64) -> i64 { self.value += by; self.value }
/// }
///
/// helio_cluster::register::<Counter>();
/// ```
pub fn register<A: Remotable<MsgPack>>() {
    let type_name = std::any::type_name::<A>();
    let fingerprint = fingerprint(type_name, A::SIGNATURE);
    let mut stubs = HashMap::new();
    let mut methods = HashMap::new();
    for method in A::remote_methods() {
        stubs.insert(method.name, method.stub);
        methods.insert(method.name, method.serve);
    }
    let entry = TypeEntry {
        type_name,
        fingerprint,
        stubs: Arc::new(stubs),
        host: Arc::new(HostTable::<A> {
            fingerprint,
            fingerprint_hex: format!("{fingerprint:016x}"),
            methods,
        }),
        encode_constructor: A::encode_constructor_args,
        spawn: placement::spawn_here::<A>,
        remote: seam::remote_handle::<A>,
        claim: claim::claim_named::<A>,
        address: handles::address::<A>,
        local: handles::local::<A>,
    };
    let fresh = TYPES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(TypeId::of::<A>(), entry.clone())
        .is_none();
    // Registered after joining: take a share of its `Placement::Any` requests now (a cluster
    // joined later subscribes every registered type itself).
    if fresh && let Some(cluster) = current() {
        let handle = cluster.handle.clone();
        handle.spawn(async move {
            if let Err(err) = placement::listen_any(&cluster, &entry).await {
                tracing::warn!(%err, "spawn requests for a registered type not served");
            }
        });
    }
}

/// The registration of `class`, if this process made one.
pub(crate) fn by_class(class: Class) -> Option<TypeEntry> {
    TYPES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&class.type_id)
        .cloned()
}

/// Every registered type.
pub(crate) fn all() -> Vec<TypeEntry> {
    TYPES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .values()
        .cloned()
        .collect()
}

/// The registered type with this fingerprint.
pub(crate) fn by_fingerprint(fingerprint: u64) -> Option<TypeEntry> {
    TYPES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .values()
        .find(|entry| entry.fingerprint == fingerprint)
        .cloned()
}

/// FNV-1a over the type's name and its methods' signatures: two processes agree on it when
/// they were built from the same definition.
pub(crate) fn fingerprint(type_name: &str, signature: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in type_name.bytes().chain([0]).chain(signature.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
