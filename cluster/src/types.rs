//! Registered actor types: the table `register::<A>()` (`register.rs`) fills.
//!
//! A [`TypeEntry`] records how to serve and call each remote method of a type, and how to
//! create, claim, address and attach its actors, as functions made for that type when it was
//! registered; the rest of the crate reaches a type's actors through them, by the type's
//! `Class` or its fingerprint.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex, PoisonError},
};

use crate::{
    ActorClass, ActorOptions,
    seam::{ActorId, ActorLabel, Claim, Claimed, Class, EncodeFn, RemoteActor, Serve, Stub},
};

use super::{Cluster, registry::ActorRecord, wire::Failure};

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
    pub(crate) host: Arc<dyn Any + Send + Sync>,
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

/// Records `entry` as the registration of `A` (replacing an old one, made from the same
/// definition, when `A` was registered already).
pub(crate) fn insert<A: 'static>(entry: TypeEntry) {
    TYPES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(TypeId::of::<A>(), entry);
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
