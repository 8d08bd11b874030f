//! State that survives an actor's restarts: `keep_across_restarts`.

use std::{any::Any, sync::Arc};

use crate::lifecycle::current_shared;

/// Inside an actor's constructor: a value shared by every run of *this actor's* constructor.
/// The first run makes it with `init`; a restart (after a crash or `kill(&a, false)`) gets the
/// same value back, so what the constructor keeps in it survives the restart. Ray loses an
/// actor's state at a restart; this keeps what you choose, in process.
///
/// The runtime lets go of the value when the actor is killed for good (`kill(&a, true)`,
/// `shutdown`) or dies otherwise, so its `Drop` runs then unless someone else still holds it
/// (the actor's own state usually does, until the actor is gone). Handles in the same process can reach the value with
/// [`Actor::kept`](crate::Actor::kept).
///
/// One value per type `T` and actor. Called outside a constructor or method of an actor, it
/// returns `init()`'s value, kept nowhere.
///
/// State kept here is not reset by a restart: a crash that left it inconsistent stays so.
/// Prefer keeping plain data (a queue, counters) behind a lock you never hold across a panic.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use helio::prelude::*;
///
/// pub struct Tally {
///     seen: Arc<Mutex<u64>>,
/// }
///
/// #[actor(max_restarts = 1)]
/// impl Tally {
///     pub fn new() -> Self {
///         Tally { seen: helio::keep_across_restarts(|| Mutex::new(0)) }
///     }
///
///     #[remote_method]
///     pub fn bump(&self) -> u64 {
///         let mut seen = self.seen.lock().unwrap();
///         *seen += 1;
///         *seen
///     }
///
///     #[remote_method]
///     pub fn crash(&self) {
///         panic!("on purpose");
///     }
/// }
///
/// let tally = Tally::new_actor().remote();
/// assert_eq!(helio::get(tally.methods().bump().remote()).unwrap(), 1);
/// assert!(helio::get(tally.methods().crash().remote()).is_err()); // the actor restarts
/// assert_eq!(helio::get(tally.methods().bump().remote()).unwrap(), 2);
/// assert_eq!(tally.restarts(), 1);
/// ```
pub fn keep_across_restarts<T: Any + Send + Sync>(init: impl FnOnce() -> T) -> Arc<T> {
    match current_shared() {
        Some(actor) => actor.kept(init),
        None => Arc::new(init()),
    }
}

/// Whether the actor running this code (its constructor or a method) has restarted before:
/// Ray's `was_current_actor_reconstructed`. `false` outside an actor.
///
/// A constructor that finds it `true` while [`keep_across_restarts`] had to make its value
/// anew runs after a restart that lost what was kept: in cluster mode, the actor's node died
/// and the actor restarted on another one.
///
/// ```
/// use helio::prelude::*;
///
/// pub struct Phoenix {
///     reborn: bool,
/// }
///
/// #[actor(max_restarts = 1)]
/// impl Phoenix {
///     pub fn new() -> Self {
///         Phoenix { reborn: helio::was_current_actor_reconstructed() }
///     }
///
///     #[remote_method]
///     pub fn reborn(&self) -> bool {
///         self.reborn
///     }
///
///     #[remote_method]
///     pub fn crash(&self) {
///         panic!("on purpose");
///     }
/// }
///
/// let phoenix = Phoenix::new_actor().remote();
/// assert!(!helio::get(phoenix.methods().reborn().remote()).unwrap());
/// assert!(helio::get(phoenix.methods().crash().remote()).is_err()); // it restarts
/// assert!(helio::get(phoenix.methods().reborn().remote()).unwrap());
/// assert!(!helio::was_current_actor_reconstructed()); // not in an actor
/// ```
pub fn was_current_actor_reconstructed() -> bool {
    current_shared().is_some_and(|actor| actor.restarts() > 0)
}
