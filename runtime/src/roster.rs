//! Every live actor of the process, so that `helio::shutdown` can stop them wherever they run.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::actor::ActorShared;

#[derive(Default)]
struct Slots {
    actors: Vec<Option<Weak<ActorShared>>>,
    free: Vec<usize>,
}

static ROSTER: Mutex<Slots> = Mutex::new(Slots {
    actors: Vec::new(),
    free: Vec::new(),
});

fn lock() -> MutexGuard<'static, Slots> {
    ROSTER.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An actor's place on the roster; it leaves the roster when this drops.
pub(crate) struct Enlisted(usize);

/// Puts an actor on the roster (once per actor, not per call).
pub(crate) fn enlist(actor: &Arc<ActorShared>) -> Enlisted {
    let mut slots = lock();
    let weak = Some(Arc::downgrade(actor));
    match slots.free.pop() {
        Some(index) => {
            slots.actors[index] = weak;
            Enlisted(index)
        }
        None => {
            slots.actors.push(weak);
            Enlisted(slots.actors.len() - 1)
        }
    }
}

impl Drop for Enlisted {
    fn drop(&mut self) {
        let mut slots = lock();
        if let Some(slot) = slots.actors.get_mut(self.0) {
            let left = slot.take();
            slots.free.push(self.0);
            drop(slots);
            drop(left);
        }
    }
}

/// Every actor still alive.
pub(crate) fn all() -> Vec<Arc<ActorShared>> {
    lock()
        .actors
        .iter()
        .flatten()
        .filter_map(Weak::upgrade)
        .collect()
}
