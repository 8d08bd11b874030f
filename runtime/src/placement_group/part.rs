//! The bundles of a placement group that this node holds: a pool per bundle, over what it
//! reserved from the node's pool, and the actors living in them. The maker's record of a
//! group is the parent module's; a node that holds bundles (the maker itself in one process,
//! any hosting node in a cluster) keeps a `Part`.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard, PoisonError, Weak},
};

use super::spec::PlacementGroupId;
use crate::{
    actor::{ActorShared, Kill},
    resource_pool::{Held, Pool},
    resources::{Ledger, Resources},
};

/// What this node holds of one group.
pub(crate) struct Part {
    /// A pool per bundle held here, by the bundle's index in the group.
    pools: BTreeMap<usize, Arc<Pool>>,
    /// The node's grants.
    _reserved: Vec<Held>,
    actors: Mutex<Vec<Weak<ActorShared>>>,
    removed: tokio::sync::Notify,
}

impl Part {
    /// The pool of bundle `bundle`, when it is held here.
    pub(crate) fn pool(&self, bundle: usize) -> Option<&Arc<Pool>> {
        self.pools.get(&bundle)
    }

    /// The pools of the bundles held here, in bundle order.
    pub(crate) fn pools(&self) -> impl Iterator<Item = &Arc<Pool>> {
        self.pools.values()
    }

    /// Counts `actor` in the part: it is killed when the part ends.
    pub(crate) fn enlist(&self, actor: &Arc<ActorShared>) {
        let mut actors = self.actors.lock().unwrap_or_else(PoisonError::into_inner);
        actors.retain(|known| known.strong_count() > 0);
        actors.push(Arc::downgrade(actor));
    }

    /// Waits until the part ends.
    pub(crate) async fn ended(&self) {
        self.removed.notified().await;
    }

    /// Ends the part: kills its actors, and wakes what waits for its bundles.
    fn end(&self) {
        self.removed.notify_waiters();
        let actors =
            std::mem::take(&mut *self.actors.lock().unwrap_or_else(PoisonError::into_inner));
        for actor in actors.iter().filter_map(Weak::upgrade) {
            actor.request_kill(Kill::ForGood);
        }
    }
}

/// The parts this node holds, by group.
fn parts() -> MutexGuard<'static, HashMap<PlacementGroupId, Arc<Part>>> {
    static PARTS: std::sync::LazyLock<Mutex<HashMap<PlacementGroupId, Arc<Part>>>> =
        std::sync::LazyLock::new(|| Mutex::new(HashMap::new()));
    PARTS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This node's part of group `id`, if it holds one.
pub(crate) fn part(id: PlacementGroupId) -> Option<Arc<Part>> {
    parts().get(&id).cloned()
}

/// Reserves `bundles` (each with its index in the group) of group `id` from `pool` now, all
/// or none, as a part this node holds: the index of the first that does not fit otherwise.
pub(crate) fn hold(
    pool: &Arc<Pool>,
    id: PlacementGroupId,
    bundles: &[(usize, Resources)],
) -> Result<(), (usize, String)> {
    crate::system::at_shutdown(clear);
    let demands: Vec<Resources> = bundles.iter().map(|(_, bundle)| bundle.clone()).collect();
    let reserved = pool
        .try_reserve(&demands)
        .map_err(|(at, why)| (bundles.get(at).map_or(at, |(index, _)| *index), why))?;
    let pools = bundles
        .iter()
        .zip(&reserved)
        .map(|((index, bundle), held)| {
            let ledger = Ledger::with_gpu_ids(bundle.clone(), held.gpu_ids());
            (*index, Pool::with_ledger(ledger))
        })
        .collect();
    let part = Arc::new(Part {
        pools,
        _reserved: reserved,
        actors: Mutex::new(Vec::new()),
        removed: tokio::sync::Notify::new(),
    });
    if let Some(old) = parts().insert(id, part) {
        old.end();
    }
    Ok(())
}

/// Lets go of this node's part of group `id`: kills its actors, fails what waits for its
/// bundles, gives its reservation back.
pub(crate) fn drop(id: PlacementGroupId) {
    let part = parts().remove(&id);
    if let Some(part) = part {
        part.end();
    }
}

/// Cluster mode, on a node asked to: reserves `bundles` (with their indices) of group `id`
/// from this node now, all or none.
///
/// # Errors
/// The index of the first bundle that does not fit now, and what it lacks.
pub fn reserve_part(
    id: PlacementGroupId,
    bundles: &[(usize, Resources)],
) -> Result<(), (usize, String)> {
    hold(&crate::system::task_pool(), id, bundles)
}

/// Cluster mode, on a node asked to: gives back its part of group `id` (kills its actors).
pub fn release_part(id: PlacementGroupId) {
    drop(id);
}

/// The groups this node holds bundles of.
pub fn held_parts() -> Vec<PlacementGroupId> {
    parts().keys().copied().collect()
}

/// Ends every part (at shutdown).
fn clear() {
    let held: Vec<Arc<Part>> = parts().drain().map(|(_, part)| part).collect();
    for part in held {
        part.end();
    }
}
