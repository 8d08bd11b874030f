//! The lifecycle API: actor states, `kill`, `current_actor`, and lookups of named actors.

use std::{
    any::Any,
    future::Future,
    sync::{Arc, Weak},
};

use crate::{
    Actor, ActorClass, LookupError,
    actor::{ActorCell, ActorShared, Kill},
    options::DEFAULT_NAMESPACE,
    registry,
};

/// Kills `actor`, like Ray's `ray.kill`.
///
/// With `no_restart`, the actor dies at once: calls running, queued and later resolve to
/// `ActorDied { cause: Killed }`. Without it the kill counts as a crash: the actor restarts while
/// `max_restarts` allows (queued calls then run on the new instance), else dies with `Killed`.
/// A kill is not a graceful stop: `#[on_stop]` does not run.
///
/// A sync method runs on the actor's own task, so a kill cannot interrupt it: a call already
/// inside one runs to its end and resolves with its result, and the kill takes effect after
/// it. Async methods are interrupted at their next `.await`.
///
/// ```
/// use std::{sync::mpsc, time::Duration};
///
/// use helio::prelude::*;
///
/// pub struct Worker { jobs: u32 }
///
/// #[actor(max_restarts = 1)]
/// impl Worker {
///     pub fn new() -> Self { Worker { jobs: 0 } }
///
///     #[remote_method]
///     pub fn work(&mut self) -> u32 { self.jobs += 1; self.jobs }
///
///     /// Says it started, then never returns.
///     #[remote_method]
///     pub async fn hang(&self, started: mpsc::Sender<()>) {
///         let _ = started.send(());
///         std::future::pending::<()>().await
///     }
/// }
///
/// let bound = Duration::from_secs(10);
/// let worker = Worker::new_actor().remote();
/// assert_eq!(worker.methods().work().remote().get_timeout(bound).unwrap(), 1);
///
/// // Without `no_restart`, a kill is a crash: the running call fails, the actor restarts
/// // (with a new state), and later calls run on the new instance.
/// let (tx, started) = mpsc::channel();
/// let stuck = worker.methods().hang().remote(tx.clone());
/// started.recv_timeout(bound).unwrap();
/// helio::kill(&worker, false);
/// assert!(matches!(
///     stuck.get_timeout(bound),
///     Err(ActorError::ActorDied { cause: DeathCause::Killed, .. })
/// ));
/// assert_eq!(worker.methods().work().remote().get_timeout(bound).unwrap(), 1);
/// assert_eq!(worker.restarts(), 1);
///
/// // With `no_restart`, it dies for good: calls running, queued and later fail.
/// let stuck = worker.methods().hang().remote(tx);
/// helio::kill(&worker, true);
/// assert!(matches!(
///     stuck.get_timeout(bound),
///     Err(ActorError::ActorDied { cause: DeathCause::Killed, .. })
/// ));
/// assert_eq!(worker.state(), ActorState::Dead(DeathCause::Killed));
/// assert!(worker.methods().work().remote().get_timeout(bound).is_err());
/// ```
pub fn kill<A: ActorClass>(actor: &Actor<A>, no_restart: bool) {
    actor.kill(no_restart);
}

/// Kills the actor named `name` in `namespace`, whatever its type, as [`kill`] does. With
/// `no_restart`, the name is free again when this returns.
///
/// # Errors
/// [`LookupError::NotFound`] when no live actor has that name.
pub fn kill_named_in(namespace: &str, name: &str, no_restart: bool) -> Result<(), LookupError> {
    let kill = if no_restart {
        Kill::ForGood
    } else {
        Kill::Crash
    };
    let found = registry::global().kill(&(namespace.to_owned(), name.to_owned()), kill);
    if found {
        Ok(())
    } else {
        Err(LookupError::NotFound {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }
}

tokio::task_local! {
    /// The actor whose driver is running.
    static CURRENT: Current;
}

/// The actor whose driver runs, whatever its type: kept in the driver's task, not allocated.
struct Current {
    /// Its `Weak<ActorCell<A>>`.
    cell: Weak<dyn Any + Send + Sync>,
    shared: Arc<ActorShared>,
    /// The resources it holds while it lives.
    demand: crate::resources::Resources,
    /// Its holding of them (`None` when it asks for none), for the GPUs' ids.
    holding: Option<Arc<crate::resource_pool::ActorHolding>>,
}

/// Runs an actor's driver with `cell` as the current actor, which holds `demand` (taken by
/// `holding`).
pub(crate) fn scope_current<A: ActorClass, F: Future>(
    cell: Weak<ActorCell<A>>,
    shared: Arc<ActorShared>,
    demand: crate::resources::Resources,
    holding: Option<Arc<crate::resource_pool::ActorHolding>>,
    driver: F,
) -> impl Future<Output = F::Output> {
    let hears: Arc<dyn crate::unwind::HearsPanics> = shared.clone();
    CURRENT.scope(
        Current {
            cell,
            shared,
            demand,
            holding,
        },
        crate::unwind::hearing_panics(hears, driver),
    )
}

/// The ids of the GPUs the actor whose driver runs here holds, if an actor runs here.
pub(crate) fn current_gpu_ids() -> Option<Vec<u32>> {
    CURRENT
        .try_with(|current| {
            current
                .holding
                .as_ref()
                .map(|holding| holding.gpu_ids())
                .unwrap_or_default()
        })
        .ok()
}

/// `f` of the actor whose driver runs here and the resources it holds, if any.
pub(crate) fn with_current<R>(
    f: impl FnOnce(&ActorShared, &crate::resources::Resources) -> R,
) -> Option<R> {
    CURRENT
        .try_with(|current| f(&current.shared, &current.demand))
        .ok()
}

/// The shared part of the actor whose driver runs here, if any.
pub(crate) fn current_shared() -> Option<Arc<ActorShared>> {
    CURRENT.try_with(|current| Arc::clone(&current.shared)).ok()
}

/// The handle of the actor whose method is running, so a method can call its own actor:
/// `helio::current_actor::<Self>()`.
///
/// `None` outside a method of an actor of type `A` (including inside `blocking` methods, which
/// run on other threads), and once every handle of an anonymous actor is gone.
///
/// A method must not *await* a call to its own actor that cannot start before the method
/// returns: a `&mut self` method (which waits for every running call), or any call once the
/// concurrency limit is reached. As in Ray, that waits forever. Sending such a call without
/// awaiting it is fine.
pub fn current_actor<A: ActorClass>() -> Option<Actor<A>> {
    CURRENT
        .try_with(|current| {
            let cell = current.cell.upgrade()?.downcast::<ActorCell<A>>().ok()?;
            Some(Actor::from_cell(cell))
        })
        .ok()
        .flatten()
}

/// The actor named `name` in the default namespace, checked to be an `A`.
///
/// A named actor is found while it lives; a non-detached one stops once every handle,
/// including those found here, is dropped.
///
/// # Errors
/// [`LookupError::NotFound`], or [`LookupError::WrongType`] naming both types.
///
/// ```
/// use helio::{LookupError, prelude::*};
///
/// pub struct Greeter;
///
/// #[actor(name = "greeter")]
/// impl Greeter {
///     pub fn new() -> Self { Greeter }
///
///     #[remote_method]
///     pub fn greet(&self, who: String) -> String { format!("hello, {who}") }
/// }
///
/// pub struct Other;
///
/// #[actor]
/// impl Other {
///     pub fn new() -> Self { Other }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let greeter = Greeter::new_actor().remote(); // registered as "greeter" at once
///
/// // Elsewhere, by name:
/// let found: Actor<Greeter> = helio::get_actor("greeter")?;
/// assert_eq!(found, greeter);
/// assert_eq!(found.methods().greet().remote("Ray").get()?, "hello, Ray");
///
/// assert!(matches!(helio::get_actor::<Other>("greeter"), Err(LookupError::WrongType { .. })));
/// assert!(matches!(helio::get_actor::<Greeter>("nobody"), Err(LookupError::NotFound { .. })));
/// # Ok(()) }
/// ```
pub fn get_actor<A: ActorClass>(name: &str) -> Result<Actor<A>, LookupError> {
    get_actor_in(DEFAULT_NAMESPACE, name)
}

/// The actor named `name` in `namespace`, checked to be an `A`.
///
/// # Errors
/// [`LookupError::NotFound`], or [`LookupError::WrongType`] naming both types.
pub fn get_actor_in<A: ActorClass>(namespace: &str, name: &str) -> Result<Actor<A>, LookupError> {
    let not_found = || LookupError::NotFound {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    };
    if let Some(found) = registry::global().lookup::<A>(&(namespace.to_owned(), name.to_owned())) {
        return found;
    }
    // Cluster mode: the cluster's registry knows the actors of other processes.
    if let Some(cluster) = crate::seam::hooks::cluster() {
        let class = crate::seam::hooks::Class::of::<A>();
        return cluster
            .lookup(class, namespace, name)
            .and_then(|actor| crate::seam::hooks::unbox(actor).map_err(LookupError::Cluster));
    }
    Err(not_found())
}

/// Every live named actor, sorted by namespace and name.
pub fn list_actors() -> Vec<crate::ActorInfo> {
    let local = registry::global().list();
    // Cluster mode: the named actors of every other node too.
    if let Some(cluster) = crate::seam::hooks::cluster() {
        let mut all = cluster.list(false);
        all.extend(local);
        all.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        return all;
    }
    local
}

/// The named actors that died for good, as the cluster keeps them (`ray list actors` keeps
/// DEAD ones the same way): each with its state `Dead(cause)`, its restarts and the node it
/// ran on last, sorted by namespace and name. The cluster keeps the last ones for a while
/// (`Config::dead_actors_kept`). Empty outside cluster mode: a process forgets its dead
/// actors, whose calls fail on their handles.
///
/// ```
/// assert!(helio_runtime::list_dead_actors().is_empty()); // not in a cluster
/// ```
pub fn list_dead_actors() -> Vec<crate::ActorInfo> {
    if let Some(cluster) = crate::seam::hooks::cluster() {
        let mut dead = cluster.list(true);
        dead.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        return dead;
    }
    Vec::new()
}
