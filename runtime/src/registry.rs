//! Named actors: a registry keyed by `(namespace, name)`.

use std::{
    any::Any,
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError, Weak},
};

use crate::{
    Actor, ActorClass, ActorId, LookupError,
    actor::{ActorCell, ActorShared, Kill},
    state::ActorInfo,
};

/// The process's registry of named actors.
pub(crate) fn global() -> &'static Registry {
    static REGISTRY: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::default);
    &REGISTRY
}

/// `(namespace, name)`.
pub type Key = (String, String);

struct Entry {
    id: ActorId,
    type_name: &'static str,
    detached: bool,
    /// Alive while the actor's dispatcher or any handle is.
    shared: Weak<ActorShared>,
    /// A `Registered<A>` for the entry's actor type.
    actor: Box<dyn Any + Send + Sync>,
}

/// How the registry holds an actor: weakly, or strongly when detached.
struct Registered<A> {
    weak: Weak<ActorCell<A>>,
    /// Keeps a detached actor's mailbox open.
    _strong: Option<Arc<ActorCell<A>>>,
}

#[derive(Default)]
pub(crate) struct Registry {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers the actor `start` makes under `key`, or, with `get_if_exists`, returns the
    /// actor of type `A` already there. `Err` when the name is taken.
    ///
    /// `start` runs under the registry's lock, so racing claims create exactly one actor.
    pub(crate) fn claim<A: ActorClass>(
        &self,
        key: Key,
        get_if_exists: bool,
        detached: bool,
        start: impl FnOnce() -> Arc<ActorCell<A>>,
    ) -> Result<Actor<A>, ()> {
        let mut entries = self.lock();
        if let Some(entry) = entries.get(&key) {
            let existing = entry
                .actor
                .downcast_ref::<Registered<A>>()
                .and_then(|registered| registered.weak.upgrade());
            match existing {
                Some(cell) if get_if_exists => return Ok(Actor::from_cell(cell)),
                Some(_) => return Err(()),
                None if entry.shared.strong_count() > 0 && !entry.actor.is::<Registered<A>>() => {
                    return Err(());
                }
                // Every handle is gone: the actor is stopping and its name is free.
                None => {}
            }
        }
        let cell = start();
        let entry = Entry {
            id: cell.shared.id,
            type_name: std::any::type_name::<A>(),
            detached,
            shared: Arc::downgrade(&cell.shared),
            actor: Box::new(Registered {
                weak: Arc::downgrade(&cell),
                _strong: detached.then(|| Arc::clone(&cell)),
            }),
        };
        let replaced = entries.insert(key, entry);
        drop(entries);
        drop(replaced);
        Ok(Actor::from_cell(cell))
    }

    /// Removes `key` if it still names actor `id`.
    pub(crate) fn remove(&self, key: &Key, id: ActorId) {
        let mut entries = self.lock();
        if entries.get(key).is_some_and(|entry| entry.id == id) {
            let removed = entries.remove(key);
            drop(entries);
            drop(removed);
        }
    }

    /// The live actor named `key`; `Some(Err)` when it is not an `A`.
    pub(crate) fn lookup<A: ActorClass>(&self, key: &Key) -> Option<Result<Actor<A>, LookupError>> {
        let entries = self.lock();
        let entry = entries.get(key)?;
        match entry.actor.downcast_ref::<Registered<A>>() {
            Some(registered) => registered
                .weak
                .upgrade()
                .map(|cell| Ok(Actor::from_cell(cell))),
            None if entry.shared.strong_count() > 0 => Some(Err(LookupError::WrongType {
                namespace: key.0.clone(),
                name: key.1.clone(),
                expected: std::any::type_name::<A>(),
                actual: entry.type_name.into(),
            })),
            None => None,
        }
    }

    /// Kills the actor named `key`, whatever its type; `false` when there is none. A kill for
    /// good frees the name at once, so that it can be taken again right away.
    pub(crate) fn kill(&self, key: &Key, kill: Kill) -> bool {
        let shared = self
            .lock()
            .get(key)
            .and_then(|entry| entry.shared.upgrade());
        match shared {
            Some(shared) => {
                if kill >= Kill::ForGood {
                    self.remove(key, shared.id);
                }
                shared.request_kill(kill);
                true
            }
            None => false,
        }
    }

    /// Every live named actor, sorted by key.
    pub(crate) fn list(&self) -> Vec<ActorInfo> {
        let entries = self.lock();
        let mut infos: Vec<ActorInfo> = entries
            .iter()
            .filter_map(|((namespace, name), entry)| {
                let shared = entry.shared.upgrade()?;
                Some(ActorInfo {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    type_name: entry.type_name.into(),
                    state: shared.state(),
                    restarts: shared.restarts(),
                    detached: entry.detached,
                    node: crate::current_node(),
                    pid: Some(std::process::id()),
                })
            })
            .collect();
        infos.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        infos
    }

    /// Drops every entry (at shutdown).
    pub(crate) fn clear(&self) {
        let drained: Vec<Entry> = self.lock().drain().map(|(_, entry)| entry).collect();
        drop(drained);
    }
}
