//! The actors this process serves to the cluster: each one's record, its cell (for a handle
//! that names it), and its shared part (to stop it whatever its type, `fence.rs`).
//!
//! An actor is served from when its subject is subscribed (`host.rs`) until it dies; one
//! placed here by another process is kept alive meanwhile.

use std::{
    any::Any,
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError, Weak},
};

use super::{NodeId, registry::ActorRecord};
use crate::{
    Actor, ActorClass,
    seam::{self, ActorCell, ActorShared},
};

/// The actors this process serves to the cluster, by local id.
#[derive(Default)]
pub(crate) struct Served {
    actors: Mutex<HashMap<u64, ServedActor>>,
}

struct ServedActor {
    record: ActorRecord,
    /// A `Weak<ActorCell<A>>`.
    cell: Box<dyn Any + Send + Sync>,
    /// Its shared part, to stop it whatever its type (`fence.rs`).
    shared: Weak<ActorShared>,
    /// An `Actor<A>` that keeps an actor placed here by another process alive.
    kept: Option<Box<dyn Any + Send + Sync>>,
}

impl Served {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, ServedActor>> {
        self.actors.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that the actor of `cell` is served under `record`.
    pub(crate) fn insert<A: ActorClass>(
        &self,
        record: ActorRecord,
        cell: Weak<ActorCell<A>>,
        shared: Weak<ActorShared>,
    ) {
        let id = record.id;
        let served = ServedActor {
            record,
            cell: Box::new(cell),
            shared,
            kept: None,
        };
        self.lock().insert(id, served);
    }

    /// Keeps `actor` alive while it is served (it was placed here from elsewhere).
    pub(crate) fn keep<A: ActorClass>(&self, actor: Actor<A>) {
        if let Some(served) = self.lock().get_mut(&actor.id().local()) {
            served.kept = Some(Box::new(actor));
        }
    }

    /// How many actors are served from here (a dead one until its last calls are answered).
    pub(crate) fn count(&self) -> usize {
        self.lock().len()
    }

    pub(crate) fn remove(&self, id: u64) {
        let removed = self.lock().remove(&id);
        drop(removed);
    }

    /// The detached actors served here that `node` hosts (restarted here included), each
    /// with its shared part.
    pub(crate) fn detached_on(&self, node: NodeId) -> Vec<(ActorRecord, Arc<ActorShared>)> {
        self.lock()
            .values()
            .filter(|served| served.record.detached && served.record.host() == node)
            .filter_map(|served| Some((served.record.clone(), served.shared.upgrade()?)))
            .collect()
    }

    pub(crate) fn record(&self, id: u64) -> Option<ActorRecord> {
        self.lock().get(&id).map(|served| served.record.clone())
    }

    /// The handle of the actor served here under local id `id`, if it is an `A` and alive.
    pub(crate) fn local<A: ActorClass>(&self, id: u64) -> Option<Actor<A>> {
        let actors = self.lock();
        let served = actors.get(&id)?;
        let cell = served
            .cell
            .downcast_ref::<Weak<ActorCell<A>>>()?
            .upgrade()?;
        drop(actors);
        Some(seam::from_cell(cell))
    }
}
