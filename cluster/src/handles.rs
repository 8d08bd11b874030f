//! Handles that cross processes: the addresses behind `Actor<A>`'s `Serialize + Deserialize`
//! (which the runtime implements, asking the seam's `Cluster::address` and `attach`).
//!
//! A handle serializes as its actor's address (an [`ActorRecord`]: node, id, type fingerprint),
//! never as a location in memory. Serializing a handle to a local actor that the cluster cannot
//! reach yet (an anonymous one) starts serving it first. Deserializing gives the local handle
//! when the actor lives in this process, else a remote handle; either way the type must be
//! registered here, and its fingerprint must match.
//!
//! A remote handle does not keep its actor alive: an anonymous actor stops when its last
//! handle in its own process drops (Ray counts handles cluster-wide; helio does not yet), and
//! calls to it then resolve to `ActorUnavailable`.

use std::{any::Any, sync::Arc, time::Duration};

use super::{Cluster, block_on, client, client::Link, host, registry::ActorRecord, types};
use crate::{
    Actor, ActorClass,
    seam::{self, Class},
};

/// The address of `actor` (an `&Actor<A>`), serving it to the cluster first if it is local
/// and not served. Monomorphized for each registered type (`TypeEntry::address`).
pub(crate) fn address<A: ActorClass>(
    cluster: &Arc<Cluster>,
    actor: &dyn Any,
) -> Result<ActorRecord, String> {
    let actor = actor
        .downcast_ref::<Actor<A>>()
        .ok_or("internal: a handle of another type")?;
    if let Some(link) = seam::remote_of(actor).and_then(|r| r.as_any().downcast_ref::<Link>()) {
        return Ok(link.record().clone());
    }
    let id = actor.id().local();
    if let Some(record) = cluster.served.record(id) {
        return Ok(record);
    }
    let table = types::registered::<A>()
        .and_then(|entry| entry.host::<A>())
        .ok_or_else(|| not_registered(std::any::type_name::<A>()))?;
    serve_anonymous(cluster, table, actor)
}

/// Why a handle of type `type_name` cannot cross processes here.
pub(crate) fn not_registered(type_name: &str) -> String {
    format!(
        "a handle to a `{type_name}` crosses processes only once the type is registered: call \
         `helio::register::<{type_name}>()`"
    )
}

/// Serves a local actor that has no name to the cluster, and returns its address.
pub(crate) fn serve_anonymous<A: ActorClass>(
    cluster: &Arc<Cluster>,
    table: Arc<types::HostTable<A>>,
    actor: &Actor<A>,
) -> Result<ActorRecord, String> {
    let subject = cluster.subjects.actor(cluster.node(), actor.id().local());
    let subscribe = {
        let cluster = Arc::clone(cluster);
        async move { cluster.subscribe_flushed(subject).await }
    };
    let sub = block_on(&cluster.handle, Duration::from_secs(10), subscribe)
        .map_err(|err| err.to_string())??;
    let cell = seam::cell_of(actor);
    let record = host::record_of(cluster, &table, cell);
    host::serve_actor(cluster, table, cell, record.clone(), sub, None);
    Ok(record)
}

/// The handle (a boxed `Actor<A>`) of the actor served here under local id `id`.
/// Monomorphized for each registered type (`TypeEntry::local`).
pub(crate) fn local<A: ActorClass>(cluster: &Arc<Cluster>, id: u64) -> Option<Box<dyn Any + Send>> {
    let actor = cluster.served.local::<A>(id)?;
    Some(Box::new(actor))
}

/// The handle (a boxed `Actor<A>`) of the actor at `record`: the local one if it lives here,
/// else a remote one.
pub(crate) fn attach(
    cluster: &Arc<Cluster>,
    class: Class,
    record: ActorRecord,
) -> Result<Box<dyn Any + Send>, String> {
    let entry = types::by_class(class);
    if record.node == cluster.node() {
        let entry = entry.ok_or_else(|| not_registered(class.type_name))?;
        return (entry.local)(cluster, record.id).ok_or_else(|| {
            format!(
                "the actor `{}` this handle names is no longer alive in its process",
                record.type_name
            )
        });
    }
    client::remote_handle(cluster, record, entry, class).map_err(|e| e.to_string())
}
